package weir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Instant;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

import org.apache.kafka.common.serialization.LongDeserializer;
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
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KeyValueMapper;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.test.TestRecord;

/**
 * Kafka Streams' groupBy and count over the records on stdin, through TopologyTestDriver:
 * the new key of each grouping is the value's text before a separator (none without
 * it: the record is dropped), as weir's examples/rust-key-selector does.
 *
 * Usage: CountOracle SEP [SEP2]; with SEP2 the stream is keyed by SEP and repartitioned
 * first, then grouped by SEP2 (two group_bys). Input lines: KEY VALUE TS, tab-separated.
 * Output lines: KEY COUNT, the last count of each key, in key order.
 */
public final class CountOracle {
    private static KeyValueMapper<String, String, String> before(String sep) {
        return (k, v) -> {
            int at = v == null ? -1 : v.indexOf(sep);
            return at < 0 ? null : v.substring(0, at);
        };
    }

    public static void main(String[] args) throws Exception {
        Serde<String> s = Serdes.String();
        StreamsBuilder b = new StreamsBuilder();
        KStream<String, String> in = b.stream("in", Consumed.with(s, s));
        if (args.length > 1) {
            in = in.selectKey(before(args[0]))
                .filter((k, v) -> k != null)
                .repartition(Repartitioned.with(s, s));
        }
        String last = args[args.length - 1];
        in.groupBy(before(last), Grouped.with(s, s))
            .count()
            .toStream()
            .to("out", Produced.with(s, Serdes.Long()));
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "count-oracle");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        p.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("weir-oracle").toString());
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        try (TopologyTestDriver d = new TopologyTestDriver(b.build(), p)) {
            TestInputTopic<String, String> input =
                d.createInputTopic("in", new StringSerializer(), new StringSerializer());
            TestOutputTopic<String, Long> out =
                d.createOutputTopic("out", new StringDeserializer(), new LongDeserializer());
            BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isEmpty()) continue;
                String[] f = line.split("\t", -1);
                input.pipeInput(new TestRecord<>(f[0], f[1], null, Instant.ofEpochMilli(Long.parseLong(f[2]))));
            }
            Map<String, Long> counts = new TreeMap<>();
            for (TestRecord<String, Long> o : out.readRecordsToList()) {
                counts.put(o.key(), o.value());
            }
            StringBuilder result = new StringBuilder();
            counts.forEach((k, n) -> result.append(k).append('\t').append(n).append('\n'));
            System.out.print(result);
        }
    }
}
