package weir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Instant;
import java.util.Properties;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KGroupedTable;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.test.TestRecord;

/**
 * Kafka Streams' table aggregations over the records on stdin, through
 * TopologyTestDriver: a KTable regrouped by the text of its value before the first comma
 * (none without one: Kafka drops it, as weir's examples/rust-key-selector does), then
 * count(), reduce(adder, subtractor) or aggregate(initializer, adder, subtractor) with
 * the arithmetic of weir's examples/rust-aggregator configured with number_after ","
 * (the whole number after a value's last comma; an aggregate is that number as text; a
 * reduce starts from a group's first value as it is).
 *
 * Usage: TableAggOracle count|reduce|aggregate. Input lines: KEY VALUE TS, tab-separated,
 * VALUE \N for null (a delete). Output lines: KEY VALUE TS, every result in the order
 * Kafka emitted it (no record cache).
 */
public final class TableAggOracle {
    private static long number(String v) {
        return Long.parseLong(v.substring(v.lastIndexOf(',') + 1).trim());
    }

    public static void main(String[] args) throws Exception {
        String op = args[0];
        Serde<String> s = Serdes.String();
        StreamsBuilder b = new StreamsBuilder();
        KTable<String, String> rows = b.table("in", Consumed.with(s, s));
        KGroupedTable<String, String> grouped = rows.groupBy((k, v) -> {
            int comma = v.indexOf(',');
            return KeyValue.pair(comma < 0 ? null : v.substring(0, comma), v);
        }, Grouped.with(s, s));
        KTable<String, String> out = switch (op) {
            case "count" -> grouped.count().mapValues(n -> Long.toString(n));
            case "reduce" -> grouped.reduce(
                (agg, v) -> Long.toString(number(agg) + number(v)),
                (agg, v) -> Long.toString(number(agg) - number(v)),
                Materialized.with(s, s));
            case "aggregate" -> grouped.aggregate(
                () -> "0",
                (k, v, agg) -> Long.toString(number(agg) + number(v)),
                (k, v, agg) -> Long.toString(number(agg) - number(v)),
                Materialized.with(s, s));
            default -> throw new IllegalArgumentException("unknown op " + op);
        };
        out.toStream().to("out", Produced.with(s, s));
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "table-agg-oracle");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        p.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("weir-oracle").toString());
        // No record cache: every update is forwarded.
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        try (TopologyTestDriver d = new TopologyTestDriver(b.build(), p)) {
            TestInputTopic<String, String> input =
                d.createInputTopic("in", new StringSerializer(), new StringSerializer());
            TestOutputTopic<String, String> output =
                d.createOutputTopic("out", new StringDeserializer(), new StringDeserializer());
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            StringBuilder result = new StringBuilder();
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isEmpty()) continue;
                String[] f = line.split("\t", -1);
                String value = f[1].equals("\\N") ? null : f[1];
                input.pipeInput(new TestRecord<>(f[0], value, null, Instant.ofEpochMilli(Long.parseLong(f[2]))));
                for (TestRecord<String, String> o : output.readRecordsToList()) {
                    result.append(o.key()).append('\t')
                        .append(o.value() == null ? "\\N" : o.value()).append('\t')
                        .append(o.timestamp()).append('\n');
                }
            }
            System.out.print(result);
        }
    }
}
