package weir;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * `txn BOOTSTRAP IN OUT GROUP` (one partition each): 10 records into IN; a read_committed
 * member of GROUP reads them, and one transaction writes their upper-cased values to OUT and
 * commits GROUP's offsets with sendOffsetsToTransaction (OUT's end offsets for both isolation
 * levels are taken while it is open). A second transaction writes 5 records
 * and aborts; a third writes one and commits. Prints what a read_committed and a
 * read_uncommitted reader of OUT see, and GROUP's committed offset on IN.
 */
final class Transactions {
    private Transactions() {}

    static Json run(String[] a) throws Exception {
        String bootstrap = a[0];
        String in = a[1];
        String out = a[2];
        String group = a[3];
        TopicPartition inTp = new TopicPartition(in, 0);
        List<Long> openEnds = new ArrayList<>();
        Properties pp = Client.props(bootstrap, "java-txn-source");
        pp.put("acks", "all");
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>(in, 0, "k" + i, "v" + i));
            }
            p.flush();
        }
        Properties tp = Client.props(bootstrap, "java-txn-producer");
        tp.put("transactional.id", "java-txn-" + group);
        tp.put("transaction.timeout.ms", "30000");
        Properties cp = Client.props(bootstrap, "java-txn-consumer");
        cp.put("group.id", group);
        cp.put("isolation.level", "read_committed");
        cp.put("enable.auto.commit", "false");
        cp.put("auto.offset.reset", "earliest");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(tp, new StringSerializer(), new StringSerializer());
                KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            producer.initTransactions();
            consumer.subscribe(List.of(in));
            List<ConsumerRecord<String, String>> batch = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 60_000;
            while (batch.size() < 10) {
                if (System.currentTimeMillis() > deadline) {
                    throw Client.fail("read " + batch.size() + " of 10 from " + in);
                }
                consumer.poll(Duration.ofMillis(200)).forEach(batch::add);
            }
            producer.beginTransaction();
            for (ConsumerRecord<String, String> r : batch) {
                producer.send(new ProducerRecord<>(out, 0, r.key(), r.value().toUpperCase()));
            }
            Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
            offsets.put(inTp, new OffsetAndMetadata(batch.get(batch.size() - 1).offset() + 1));
            producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
            // While it is open, a read_committed reader's end is the last stable offset
            // (the transaction's first offset), a read_uncommitted one's the high watermark.
            producer.flush();
            openEnds.add(endOffset(bootstrap, out, "read_committed"));
            openEnds.add(endOffset(bootstrap, out, "read_uncommitted"));
            producer.commitTransaction();

            producer.beginTransaction();
            for (int i = 0; i < 5; i++) {
                producer.send(new ProducerRecord<>(out, 0, "x", "aborted-" + i));
            }
            producer.flush();
            producer.abortTransaction();

            producer.beginTransaction();
            producer.send(new ProducerRecord<>(out, 0, "y", "after"));
            producer.commitTransaction();
        }
        long committed;
        Properties gp = Client.props(bootstrap, "java-txn-offsets");
        gp.put("group.id", group);
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(gp, new StringDeserializer(), new StringDeserializer())) {
            OffsetAndMetadata o = c.committed(java.util.Set.of(inTp), Duration.ofSeconds(10)).get(inTp);
            committed = o == null ? -1 : o.offset();
        }
        return new Json()
                .put("read_committed", readAll(bootstrap, out, "read_committed"))
                .put("read_uncommitted", readAll(bootstrap, out, "read_uncommitted"))
                .put("committed_offset", committed)
                .put("ends_while_open", openEnds);
    }

    /** TOPIC's partition 0 end offset as a reader with `isolation` sees it. */
    private static long endOffset(String bootstrap, String topic, String isolation) {
        Properties p = Client.props(bootstrap, "java-txn-end-" + isolation);
        p.put("isolation.level", isolation);
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            return c.endOffsets(List.of(tp)).get(tp);
        }
    }

    /** Every value in OUT up to its end offset for `isolation`, as that reader sees them. */
    private static List<String> readAll(String bootstrap, String topic, String isolation) {
        Properties p = Client.props(bootstrap, "java-txn-" + isolation);
        p.put("isolation.level", isolation);
        p.put("enable.auto.commit", "false");
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long end = c.endOffsets(List.of(tp)).get(tp);
            long deadline = System.currentTimeMillis() + 30_000;
            while (c.position(tp) < end) {
                if (System.currentTimeMillis() > deadline) {
                    throw Client.fail(isolation + " reader stuck at " + c.position(tp) + " of " + end);
                }
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    values.add(r.value());
                }
            }
        }
        return values;
    }
}
