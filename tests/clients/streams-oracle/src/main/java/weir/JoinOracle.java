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
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.KeyValueMapper;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.ValueJoiner;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.test.TestRecord;

/**
 * Kafka Streams' joins over the records on stdin, through TopologyTestDriver, with the
 * joiner weir uses by default ({"left": L, "right": R}).
 *
 * Usage: JoinOracle PAIR TYPE [WINDOW_MS GRACE_MS]; PAIR is stream-table, table-table,
 * stream-stream, stream-global or stream-versioned, TYPE inner, left or outer. A
 * stream-versioned join's table is a versioned store (persistentVersionedKeyValueStore)
 * with a history retention of WINDOW_MS, and the join has a grace period of GRACE_MS
 * (Joined.withGracePeriod). A stream-global join looks up
 * the global table's key the stream value names: its text before the first comma (none
 * without a comma), as weir's examples/rust-key-selector does. Input lines: SIDE KEY VALUE TS, tab-separated,
 * SIDE L or R, KEY and VALUE \N for null. Output lines: KEY VALUE TS, in the order Kafka
 * emitted, a null key written as \N (a left or outer windowed join emits a null-key record
 * joined with null, KIP-962).
 */
public final class JoinOracle {
    private static String text(String v) {
        return v == null ? "null" : "\"" + v + "\"";
    }

    static final ValueJoiner<String, String, String> JOINER =
        (l, r) -> "{\"left\":" + text(l) + ",\"right\":" + text(r) + "}";

    static final KeyValueMapper<String, String, String> FIELD = (k, v) -> {
        int comma = v == null ? -1 : v.indexOf(',');
        return comma < 0 ? null : v.substring(0, comma);
    };

    public static void main(String[] args) throws Exception {
        String pair = args[0], type = args[1];
        Serde<String> s = Serdes.String();
        StreamsBuilder b = new StreamsBuilder();
        switch (pair) {
            case "stream-table" -> {
                KStream<String, String> l = b.stream("left", Consumed.with(s, s));
                KTable<String, String> r = b.table("right", Consumed.with(s, s));
                (type.equals("left") ? l.leftJoin(r, JOINER) : l.join(r, JOINER))
                    .to("out", Produced.with(s, s));
            }
            case "stream-versioned" -> {
                KStream<String, String> l = b.stream("left", Consumed.with(s, s));
                KTable<String, String> r = b.table("right", Consumed.with(s, s),
                    Materialized.<String, String>as(Stores.persistentVersionedKeyValueStore(
                            "versioned", Duration.ofMillis(Long.parseLong(args[2]))))
                        .withKeySerde(s).withValueSerde(s));
                Joined<String, String, String> joined = Joined.with(s, s, s)
                    .withGracePeriod(Duration.ofMillis(Long.parseLong(args[3])));
                (type.equals("left") ? l.leftJoin(r, JOINER, joined) : l.join(r, JOINER, joined))
                    .to("out", Produced.with(s, s));
            }
            case "stream-global" -> {
                KStream<String, String> l = b.stream("left", Consumed.with(s, s));
                GlobalKTable<String, String> r = b.globalTable("right", Consumed.with(s, s));
                (type.equals("left") ? l.leftJoin(r, FIELD, JOINER) : l.join(r, FIELD, JOINER))
                    .to("out", Produced.with(s, s));
            }
            case "table-table" -> {
                KTable<String, String> l = b.table("left", Consumed.with(s, s));
                KTable<String, String> r = b.table("right", Consumed.with(s, s));
                KTable<String, String> j = switch (type) {
                    case "left" -> l.leftJoin(r, JOINER);
                    case "outer" -> l.outerJoin(r, JOINER);
                    default -> l.join(r, JOINER);
                };
                j.toStream().to("out", Produced.with(s, s));
            }
            case "stream-stream" -> {
                KStream<String, String> l = b.stream("left", Consumed.with(s, s));
                KStream<String, String> r = b.stream("right", Consumed.with(s, s));
                JoinWindows w = JoinWindows.ofTimeDifferenceAndGrace(
                    Duration.ofMillis(Long.parseLong(args[2])),
                    Duration.ofMillis(Long.parseLong(args[3])));
                StreamJoined<String, String, String> joined = StreamJoined.with(s, s, s);
                KStream<String, String> j = switch (type) {
                    case "left" -> l.leftJoin(r, JOINER, w, joined);
                    case "outer" -> l.outerJoin(r, JOINER, w, joined);
                    default -> l.join(r, JOINER, w, joined);
                };
                j.to("out", Produced.with(s, s));
            }
            default -> throw new IllegalArgumentException("unknown pair " + pair);
        }
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "oracle");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        // A state directory of its own: several oracles may run at once.
        p.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("weir-oracle").toString());
        // Left/outer results of closed join windows at every record, not throttled to one
        // check a second of wall-clock time (an optimisation that makes the order depend
        // on how fast the records come).
        p.put("__emit.interval.ms.kstreams.outer.join.spurious.results.fix__", 0L);
        // No record cache: every update is forwarded, as weir does.
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        try (TopologyTestDriver d = new TopologyTestDriver(b.build(), p)) {
            TestInputTopic<String, String> left =
                d.createInputTopic("left", new StringSerializer(), new StringSerializer());
            TestInputTopic<String, String> right =
                d.createInputTopic("right", new StringSerializer(), new StringSerializer());
            TestOutputTopic<String, String> out =
                d.createOutputTopic("out", new StringDeserializer(), new StringDeserializer());
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            StringBuilder result = new StringBuilder();
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isEmpty()) continue;
                String[] f = line.split("\t", -1);
                String key = f[1].equals("\\N") ? null : f[1];
                String value = f[2].equals("\\N") ? null : f[2];
                TestRecord<String, String> r =
                    new TestRecord<>(key, value, null, Instant.ofEpochMilli(Long.parseLong(f[3])));
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
