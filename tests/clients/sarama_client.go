// Debian's sarama (golang-github-shopify-sarama-dev, 1.22) driven by
// tests/kafka_sarama.rs: produce, consume in a group, commit with sarama's own
// OffsetCommit version (v1: Consumer.Offsets.Retention is 0), read the commit
// back, and check that a producer at sarama's default protocol version (0.8.2:
// Produce v0, which weir does not serve) gets an error instead of a silent loss.
//
// Built by the test in GOPATH mode against Debian's packaged sources.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

const deadline = 60 * time.Second

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func config() *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "weir-sarama-test"
	c.Version = sarama.V2_0_0_0
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.CommitInterval = 100 * time.Millisecond
	c.Consumer.Group.Session.Timeout = 10 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	return c
}

type handler struct {
	want   int
	mu     sync.Mutex
	seen   map[string]bool
	cancel context.CancelFunc
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		sess.MarkMessage(msg, "sarama")
		h.mu.Lock()
		h.seen[string(msg.Value)] = true
		done := len(h.seen) >= h.want
		h.mu.Unlock()
		if done {
			h.cancel()
		}
	}
	return nil
}

func main() {
	bootstrap, topic, group := os.Args[1], os.Args[2], os.Args[3]
	count, err := strconv.Atoi(os.Args[4])
	if err != nil {
		fail("count: %v", err)
	}
	brokers := []string{bootstrap}

	producer, err := sarama.NewSyncProducer(brokers, config())
	if err != nil {
		fail("producer: %v", err)
	}
	var msgs []*sarama.ProducerMessage
	for i := 0; i < count; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{
			Topic: topic, Partition: 0,
			Key:   sarama.StringEncoder(fmt.Sprintf("k%d", i)),
			Value: sarama.StringEncoder(fmt.Sprintf("sarama-%d", i)),
		})
	}
	if err := producer.SendMessages(msgs); err != nil {
		fail("produce: %v", err)
	}
	producer.Close()

	cg, err := sarama.NewConsumerGroup(brokers, group, config())
	if err != nil {
		fail("consumer group: %v", err)
	}
	go func() {
		for err := range cg.Errors() {
			fmt.Fprintf(os.Stderr, "consumer group error: %v\n", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	h := &handler{want: count, seen: map[string]bool{}, cancel: cancel}
	for ctx.Err() == nil {
		if err := cg.Consume(ctx, []string{topic}, h); err != nil {
			fail("consume: %v", err)
		}
	}
	if len(h.seen) < count {
		fail("consumed %d of %d", len(h.seen), count)
	}
	// Closing the group commits what was marked (OffsetCommit at sarama's version).
	if err := cg.Close(); err != nil {
		fail("close group: %v", err)
	}

	// Read the commit back over OffsetFetch, as a restarting member would.
	client, err := sarama.NewClient(brokers, config())
	if err != nil {
		fail("client: %v", err)
	}
	coordinator, err := client.Coordinator(group)
	if err != nil {
		fail("coordinator: %v", err)
	}
	req := &sarama.OffsetFetchRequest{Version: 1, ConsumerGroup: group}
	req.AddPartition(topic, 0)
	resp, err := coordinator.FetchOffset(req)
	if err != nil {
		fail("offset fetch: %v", err)
	}
	block := resp.GetBlock(topic, 0)
	if block == nil || block.Err != sarama.ErrNoError {
		fail("offset fetch block: %+v", block)
	}
	client.Close()

	// sarama's default protocol version produces with Produce v0.
	old := sarama.NewConfig()
	old.Producer.Return.Successes = true
	old.Producer.Retry.Max = 1
	old.Producer.Retry.Backoff = 10 * time.Millisecond
	oldErr := ""
	if p, err := sarama.NewSyncProducer(brokers, old); err != nil {
		oldErr = err.Error()
	} else {
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("v0")})
		if err != nil {
			oldErr = err.Error()
		}
		p.Close()
	}

	out, _ := json.Marshal(map[string]interface{}{
		"consumed":          len(h.seen),
		"committed":         block.Offset,
		"metadata":          block.Metadata,
		"old_version_error": oldErr,
	})
	fmt.Println(string(out))
}
