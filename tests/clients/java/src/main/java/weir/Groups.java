package weir;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * `group BOOTSTRAP TOPIC GROUP ASSIGNOR` (ASSIGNOR: range or cooperative-sticky; TOPIC has 4
 * partitions): 10 records a partition; two members A and B of GROUP, polled in turn from this
 * thread, until each owns two partitions and all 40 records were read and committed. Then 2
 * more a partition, B leaves, and A must take all four partitions and read exactly the 8 new
 * records, resuming from B's commits. Prints both phases' assignments and counts.
 */
final class Groups {
    private Groups() {}

    static Json run(String[] a) throws Exception {
        String bootstrap = a[0];
        String topic = a[1];
        String group = a[2];
        String assignor = switch (a[3]) {
            case "range" -> "org.apache.kafka.clients.consumer.RangeAssignor";
            case "cooperative-sticky" -> "org.apache.kafka.clients.consumer.CooperativeStickyAssignor";
            default -> throw Client.fail("unknown assignor " + a[3]);
        };
        produce(bootstrap, topic, "first", 10);
        KafkaConsumer<String, String> ca = member(bootstrap, group, assignor, "a");
        KafkaConsumer<String, String> cb = member(bootstrap, group, assignor, "b");
        ca.subscribe(List.of(topic), committingOnRevoke(ca));
        cb.subscribe(List.of(topic), committingOnRevoke(cb));
        Set<String> seen = new HashSet<>();
        int readA = 0;
        int readB = 0;
        long deadline = System.currentTimeMillis() + 60_000;
        while (!(ca.assignment().size() == 2 && cb.assignment().size() == 2 && seen.size() == 40
                && commit(ca) && commit(cb))) {
            if (System.currentTimeMillis() > deadline) {
                throw Client.fail("no 2/2 split with every record read: a=" + ca.assignment() + " b="
                        + cb.assignment() + " distinct=" + seen.size());
            }
            readA += take(ca, seen);
            commit(ca);
            readB += take(cb, seen);
            commit(cb);
        }
        List<Integer> splitA = partitions(ca.assignment());
        List<Integer> splitB = partitions(cb.assignment());
        produce(bootstrap, topic, "second", 2);
        cb.close();
        Set<String> after = new HashSet<>();
        int readAfter = 0;
        deadline = System.currentTimeMillis() + 60_000;
        while (!(ca.assignment().size() == 4 && after.size() >= 8 && commit(ca))) {
            if (System.currentTimeMillis() > deadline) {
                throw Client.fail("A did not take over: a=" + ca.assignment() + " read " + after);
            }
            for (ConsumerRecord<String, String> r : ca.poll(Duration.ofMillis(200))) {
                readAfter++;
                after.add(r.value());
            }
            commit(ca);
        }
        List<Integer> whole = partitions(ca.assignment());
        ca.close();
        return new Json()
                .put("a", splitA)
                .put("b", splitB)
                .put("distinct", seen.size())
                .put("read", readA + readB)
                .put("read_by_a", readA)
                .put("read_by_b", readB)
                .put("after_leave", whole)
                .put("read_after_leave", readAfter)
                .put("new_after_leave", new TreeSet<>(after).stream().filter(v -> v.startsWith("second-")).count());
    }

    private static KafkaConsumer<String, String> member(String bootstrap, String group, String assignor, String name) {
        Properties p = Client.props(bootstrap, "java-group-" + name);
        p.put("group.id", group);
        p.put("partition.assignment.strategy", assignor);
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        p.put("session.timeout.ms", "10000");
        p.put("heartbeat.interval.ms", "500");
        return new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
    }

    /** Kafka's pattern for no re-reads: commit what was read before giving partitions up. */
    private static ConsumerRebalanceListener committingOnRevoke(KafkaConsumer<String, String> c) {
        return new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                commit(c);
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {}
        };
    }

    private static int take(KafkaConsumer<String, String> c, Set<String> seen) {
        int n = 0;
        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
            seen.add(r.value());
            n++;
        }
        return n;
    }

    /** Commits what `c` has read; false while a rebalance makes the commit fail (it is retried). */
    private static boolean commit(KafkaConsumer<String, String> c) {
        try {
            c.commitSync(Duration.ofSeconds(10));
            return true;
        } catch (KafkaException e) {
            System.err.println("commit: " + e);
            return false;
        }
    }

    private static void produce(String bootstrap, String topic, String tag, int perPartition) {
        Properties p = Client.props(bootstrap, "java-group-producer");
        p.put("acks", "all");
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int part = 0; part < 4; part++) {
                for (int i = 0; i < perPartition; i++) {
                    producer.send(new ProducerRecord<>(topic, part, "k", tag + "-" + part + "-" + i));
                }
            }
            producer.flush();
        }
    }

    private static List<Integer> partitions(Set<TopicPartition> tps) {
        List<Integer> out = new ArrayList<>();
        for (TopicPartition tp : tps) {
            out.add(tp.partition());
        }
        out.sort(null);
        return out;
    }
}
