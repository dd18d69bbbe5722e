package weir;

import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.AdminClient;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * `tls BOOTSTRAP CA_PEM USER PW TOPIC N`, over SASL_SSL with SCRAM-SHA-512: Java's TLS
 * stack trusting only CA_PEM and checking the server's name (the default https
 * endpoint identification); the AdminClient creates TOPIC, an idempotent producer sends
 * N records and a consumer reads them back. Prints how many were acknowledged and read.
 */
final class Tls {
    private Tls() {}

    static Json run(String[] a) throws Exception {
        String bootstrap = a[0];
        String topic = a[4];
        int n = Integer.parseInt(a[5]);
        try (AdminClient admin = AdminClient.create(props(a, "java-tls-admin"))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        Properties pp = props(a, "java-tls-producer");
        pp.put("enable.idempotence", "true");
        pp.put("acks", "all");
        int acked = 0;
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < n; i++) {
                p.send(new ProducerRecord<>(topic, 0, "k" + i, "tls-" + i));
            }
            p.flush();
            acked = n;
        }
        Properties cp = props(a, "java-tls-consumer");
        cp.put("enable.auto.commit", "false");
        int read = 0;
        boolean inOrder = true;
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.currentTimeMillis() + 30_000;
            while (read < n && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(300))) {
                    inOrder &= r.value().equals("tls-" + read);
                    read++;
                }
            }
        }
        return new Json().put("acked", acked).put("consumed", read).put("in_order", inOrder);
    }

    private static Properties props(String[] a, String clientId) {
        Properties p = Client.props(a[0], clientId);
        p.put("security.protocol", "SASL_SSL");
        p.put("ssl.truststore.type", "PEM");
        p.put("ssl.truststore.location", a[1]);
        p.put("sasl.mechanism", "SCRAM-SHA-512");
        p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                + a[2] + "\" password=\"" + a[3] + "\";");
        return p;
    }
}
