package weir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.Properties;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.test.TestRecord;

/**
 * Kafka Streams' joins and counts after a key change, through TopologyTestDriver: the left
 * stream re-keyed with selectKey (the value's text before its first comma, as weir's
 * examples/rust-key-selector; no comma: a null new key), which makes Streams repartition it
 * before the join; the default joiner of JoinOracle. A record whose new key is null is kept
 * by a left join with a table and joined with null (KIP-962, Kafka Streams 3.7+; a
 * global table's join does not repartition, and its left join keeps it too), and dropped
 * before an inner join with a table and by groupBy (weir's group_by does the same).
 * A windowed join of two re-keyed streams: an inner join drops a null new key, a left
 * join emits the left stream's joined with null at once, an outer join both streams'.
 *
 * Usage: RegroupOracle PAIR TYPE [WINDOW_MS GRACE_MS]; PAIR stream-table (the re-keyed
 * left stream joined with the right table, TYPE inner or left), stream-global (the same
 * with the right global table, looked up by the value's text before its first comma, as
 * weir's key_module), stream-stream (both
 * streams re-keyed, joined in a window, TYPE inner, left or outer) or count (the left
 * stream's groupBy(...).count(), the count as decimal text; TYPE ignored, no right input).
 * Input and output lines as JoinOracle's, a null key written as \N.
 */
public final class RegroupOracle {
    public static void main(String[] args) throws Exception {
        String pair = args[0], type = args[1];
        Serde<String> s = Serdes.String();
        StreamsBuilder b = new StreamsBuilder();
        KStream<String, String> input = b.<String, String>stream("left", Consumed.with(s, s));
        KStream<String, String> l = input.selectKey(JoinOracle.FIELD);
        switch (pair) {
            case "count" -> input.groupBy(JoinOracle.FIELD, Grouped.with(s, s)).count()
                .toStream().mapValues(String::valueOf).to("out", Produced.with(s, s));
            case "stream-table" -> {
                KTable<String, String> r = b.table("right", Consumed.with(s, s));
                Joined<String, String, String> joined = Joined.with(s, s, s);
                (type.equals("left") ? l.leftJoin(r, JoinOracle.JOINER, joined)
                        : l.join(r, JoinOracle.JOINER, joined))
                    .to("out", Produced.with(s, s));
            }
            case "stream-global" -> {
                GlobalKTable<String, String> r = b.globalTable("right", Consumed.with(s, s));
                (type.equals("left") ? l.leftJoin(r, JoinOracle.FIELD, JoinOracle.JOINER)
                        : l.join(r, JoinOracle.FIELD, JoinOracle.JOINER))
                    .to("out", Produced.with(s, s));
            }
            case "stream-stream" -> {
                KStream<String, String> r = b.<String, String>stream("right", Consumed.with(s, s))
                    .selectKey(JoinOracle.FIELD);
                JoinWindows w = JoinWindows.ofTimeDifferenceAndGrace(
                    Duration.ofMillis(Long.parseLong(args[2])),
                    Duration.ofMillis(Long.parseLong(args[3])));
                StreamJoined<String, String, String> joined = StreamJoined.with(s, s, s);
                KStream<String, String> j = switch (type) {
                    case "left" -> l.leftJoin(r, JoinOracle.JOINER, w, joined);
                    case "outer" -> l.outerJoin(r, JoinOracle.JOINER, w, joined);
                    default -> l.join(r, JoinOracle.JOINER, w, joined);
                };
                j.to("out", Produced.with(s, s));
            }
            default -> throw new IllegalArgumentException("unknown pair " + pair);
        }
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "regroup-oracle");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        p.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("weir-oracle").toString());
        // As JoinOracle: closed windows' non-matches at every record, no record cache.
        p.put("__emit.interval.ms.kstreams.outer.join.spurious.results.fix__", 0L);
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        try (TopologyTestDriver d = new TopologyTestDriver(b.build(), p)) {
            TestInputTopic<String, String> left =
                d.createInputTopic("left", new StringSerializer(), new StringSerializer());
            TestInputTopic<String, String> right = pair.equals("count") ? null
                : d.createInputTopic("right", new StringSerializer(), new StringSerializer());
            TestOutputTopic<String, String> out =
                d.createOutputTopic("out", new StringDeserializer(), new StringDeserializer());
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            StringBuilder result = new StringBuilder();
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isEmpty()) continue;
                String[] f = line.split("\t", -1);
                String value = f[2].equals("\\N") ? null : f[2];
                TestRecord<String, String> r =
                    new TestRecord<>(f[1], value, null, Instant.ofEpochMilli(Long.parseLong(f[3])));
                (f[0].equals("L") ? left : right).pipeInput(r);
                for (TestRecord<String, String> o : out.readRecordsToList()) {
                    result.append(o.key() == null ? "\\N" : o.key()).append('\t')
                        .append(o.value() == null ? "\\N" : o.value()).append('\t')
                        .append(o.timestamp()).append('\n');
                }
            }
            System.out.print(result);
        }
    }
}
