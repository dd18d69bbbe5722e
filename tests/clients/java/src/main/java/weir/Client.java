package weir;

import java.io.InputStream;
import java.util.Arrays;
import java.util.Properties;

/**
 * Kafka's own Java client (kafka-clients) driven by tests/kafka_java.rs against a weir server.
 * One subcommand a JVM run; each prints one JSON line on stdout for the Rust test to assert on,
 * and fails (non-zero exit, the reason on stderr) when the client itself reports an error.
 *
 * <pre>
 * codecs BOOTSTRAP TOPIC N                 idempotent producer, every compression.type; read back
 * group BOOTSTRAP TOPIC GROUP ASSIGNOR     two members split 4 partitions; one leaves
 * txn BOOTSTRAP IN OUT GROUP               consume-transform-produce, an abort, read_committed
 * admin BOOTSTRAP PREFIX                   AdminClient: topics, configs, partitions, groups
 * acls BOOTSTRAP ADMIN PW USER UPW TOPIC   AdminClient over SASL/SCRAM: create/describe/delete ACLs
 * tls BOOTSTRAP CA_PEM USER PW TOPIC N     SASL_SSL (SCRAM-SHA-512): create, produce, consume
 * </pre>
 */
public final class Client {
    private Client() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            usage();
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        Json out;
        switch (args[0]) {
            case "codecs" -> out = Codecs.run(rest);
            case "group" -> out = Groups.run(rest);
            case "txn" -> out = Transactions.run(rest);
            case "admin" -> out = Admin.run(rest);
            case "acls" -> out = Acls.run(rest);
            case "tls" -> out = Tls.run(rest);
            default -> {
                usage();
                return;
            }
        }
        out.put("client_version", version());
        System.out.println(out);
        // kafka-clients leaves non-daemon threads behind on some failure paths.
        System.exit(0);
    }

    private static void usage() {
        System.err.println("usage: Client codecs|group|txn|admin|acls|tls BOOTSTRAP ... (see the class doc)");
        System.exit(2);
    }

    /** The kafka-clients version on the classpath, from the properties file its jar carries. */
    static String version() throws Exception {
        try (InputStream in = Client.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        }
    }

    /** Fails the run: the Rust test sees the exit status and this message on stderr. */
    static RuntimeException fail(String msg) {
        System.err.println("FAIL: " + msg);
        System.exit(1);
        return new IllegalStateException(msg);
    }

    /** Properties with the bootstrap address and a client id naming the scenario. */
    static Properties props(String bootstrap, String clientId) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("client.id", clientId);
        return p;
    }
}
