package weir;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.connect.mirror.Checkpoint;
import org.apache.kafka.connect.mirror.Heartbeat;
import org.apache.kafka.connect.mirror.OffsetSync;
import org.apache.kafka.connect.mirror.RemoteClusterUtils;

/**
 * Reads what weir's mirror wrote with MirrorMaker 2's own classes, one line per record on stdout
 * (tab-separated, so the Rust test needs no JSON parser for it):
 *   dump BOOTSTRAP TOPIC KIND   every record of TOPIC, decoded as KIND (offset-sync, checkpoint,
 *                               heartbeat) with KIND's deserializeRecord
 *   translate BOOTSTRAP ALIAS GROUP
 *                               RemoteClusterUtils.translateOffsets on the cluster at BOOTSTRAP
 *                               for checkpoints from cluster ALIAS: "topic partition offset"
 * A record that does not decode ends the program with an exception (a non-zero exit).
 */
public class Mm2Check {
    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "dump" -> dump(args[1], args[2], args[3]);
            case "translate" -> translate(args[1], args[2], args[3]);
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
    }

    static void dump(String bootstrap, String topic, String kind) {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", bootstrap);
        props.put("enable.auto.commit", "false");
        try (KafkaConsumer<byte[], byte[]> c =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo p : c.partitionsFor(topic, Duration.ofSeconds(20))) {
                tps.add(new TopicPartition(topic, p.partition()));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(20));
            long deadline = System.currentTimeMillis() + 30_000;
            while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("timed out reading " + topic);
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    System.out.println(decode(kind, r));
                }
            }
        }
    }

    static String decode(String kind, ConsumerRecord<byte[], byte[]> r) {
        switch (kind) {
            case "offset-sync": {
                OffsetSync s = OffsetSync.deserializeRecord(r);
                return String.join("\t", s.topicPartition().topic(),
                        String.valueOf(s.topicPartition().partition()),
                        String.valueOf(s.upstreamOffset()), String.valueOf(s.downstreamOffset()));
            }
            case "checkpoint": {
                Checkpoint k = Checkpoint.deserializeRecord(r);
                return String.join("\t", k.consumerGroupId(), k.topicPartition().topic(),
                        String.valueOf(k.topicPartition().partition()),
                        String.valueOf(k.upstreamOffset()), String.valueOf(k.downstreamOffset()),
                        k.metadata());
            }
            case "heartbeat": {
                Heartbeat h = Heartbeat.deserializeRecord(r);
                return String.join("\t", h.sourceClusterAlias(), h.targetClusterAlias(),
                        String.valueOf(h.timestamp()));
            }
            default:
                throw new IllegalArgumentException("unknown kind " + kind);
        }
    }

    static void translate(String bootstrap, String alias, String group) throws Exception {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", bootstrap);
        Map<TopicPartition, OffsetAndMetadata> out =
                RemoteClusterUtils.translateOffsets(props, alias, group, Duration.ofSeconds(20));
        Map<String, Long> sorted = new TreeMap<>();
        out.forEach((tp, o) -> sorted.put(tp.topic() + "\t" + tp.partition(), o.offset()));
        sorted.forEach((k, v) -> System.out.println(k + "\t" + v));
    }
}
