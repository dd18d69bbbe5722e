package weir;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * `codecs BOOTSTRAP TOPIC N`: for each compression.type, an idempotent producer (acks=all)
 * sends N records with a key, two headers and an explicit timestamp to TOPIC-CODEC partition 0;
 * a consumer reads them back and each one is checked field by field. Prints, per codec, how
 * many were acknowledged, read and matched, and the offsets the producer was given.
 */
final class Codecs {
    static final String[] CODECS = {"none", "gzip", "snappy", "lz4", "zstd"};
    /** A fixed past time, so a broker that stamps its own time instead is caught. */
    static final long BASE_TS = 1_700_000_000_000L;

    private Codecs() {}

    static Json run(String[] a) throws Exception {
        String bootstrap = a[0];
        String prefix = a[1];
        int n = Integer.parseInt(a[2]);
        Map<String, Object> per = new LinkedHashMap<>();
        for (String codec : CODECS) {
            per.put(codec, roundtrip(bootstrap, prefix + "-" + codec, codec, n));
        }
        return new Json().put("codecs", per);
    }

    private static Json roundtrip(String bootstrap, String topic, String codec, int n) throws Exception {
        Properties p = Client.props(bootstrap, "java-codecs-" + codec);
        p.put("enable.idempotence", "true");
        p.put("acks", "all");
        p.put("compression.type", codec);
        p.put("linger.ms", "50");
        List<Long> offsets = new ArrayList<>();
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ProducerRecord<String, String> r =
                        new ProducerRecord<>(topic, 0, BASE_TS + i, "k-" + i, codec + "-" + i);
                r.headers().add("seq", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                r.headers().add("codec", codec.getBytes(StandardCharsets.UTF_8));
                sent.add(producer.send(r));
            }
            producer.flush();
            for (Future<RecordMetadata> f : sent) {
                offsets.add(f.get().offset());
            }
        }
        Properties c = Client.props(bootstrap, "java-codecs-reader");
        c.put("enable.auto.commit", "false");
        c.put("auto.offset.reset", "earliest");
        int consumed = 0;
        int matched = 0;
        List<String> mismatches = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer =
                new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seek(tp, offsets.get(0));
            long deadline = System.currentTimeMillis() + 30_000;
            while (consumed < n && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    if (consumed == n) {
                        break;
                    }
                    int i = consumed++;
                    String why = check(r, codec, i, offsets.get(0) + i);
                    if (why == null) {
                        matched++;
                    } else if (mismatches.size() < 5) {
                        mismatches.add(why);
                    }
                }
            }
        }
        return new Json()
                .put("acked", offsets.size())
                .put("offsets", offsets)
                .put("consumed", consumed)
                .put("matched", matched)
                .put("mismatches", mismatches);
    }

    /** Null when record `i` came back as sent (at `offset`), else what differed. */
    private static String check(ConsumerRecord<String, String> r, String codec, int i, long offset) {
        String want = "offset " + offset + " key k-" + i + " value " + codec + "-" + i + " ts " + (BASE_TS + i)
                + " headers seq=" + i + ",codec=" + codec;
        StringBuilder headers = new StringBuilder();
        for (Header h : r.headers()) {
            if (headers.length() > 0) {
                headers.append(',');
            }
            headers.append(h.key()).append('=').append(new String(h.value(), StandardCharsets.UTF_8));
        }
        String got = "offset " + r.offset() + " key " + r.key() + " value " + r.value() + " ts " + r.timestamp()
                + " headers " + headers;
        if (r.timestampType() != org.apache.kafka.common.record.TimestampType.CREATE_TIME) {
            got += " " + r.timestampType();
        }
        return want.equals(got) ? null : "want [" + want + "] got [" + got + "]";
    }
}
