package weir;

import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.AdminClient;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;

/**
 * `acls BOOTSTRAP ADMIN PW USER USER_PW TOPIC`, over SASL/SCRAM-SHA-256: the administrator
 * creates two ACLs for USER (WRITE on TOPIC, a PREFIXED READ), describes USER's ACLs (and USER
 * describes TOPIC with its authorized operations), deletes
 * them and describes again; USER's own createAcls must be refused. Prints each answer.
 */
final class Acls {
    private Acls() {}

    static Json run(String[] a) throws Exception {
        String bootstrap = a[0];
        String principal = "User:" + a[3];
        String topic = a[5];
        Json out = new Json();
        List<AclBinding> bindings = List.of(
                new AclBinding(new ResourcePattern(ResourceType.TOPIC, topic, PatternType.LITERAL),
                        new AccessControlEntry(principal, "*", AclOperation.WRITE, AclPermissionType.ALLOW)),
                new AclBinding(new ResourcePattern(ResourceType.TOPIC, "logs-", PatternType.PREFIXED),
                        new AccessControlEntry(principal, "*", AclOperation.READ, AclPermissionType.ALLOW)));
        AclBindingFilter users = new AclBindingFilter(ResourcePatternFilter.ANY,
                new AccessControlEntryFilter(principal, null, AclOperation.ANY, AclPermissionType.ANY));
        try (AdminClient admin = AdminClient.create(sasl(bootstrap, a[1], a[2]))) {
            admin.createAcls(bindings).all().get();
            out.put("described", describe(admin.describeAcls(users).values().get()));
            try (AdminClient user = AdminClient.create(sasl(bootstrap, a[3], a[4]))) {
                out.put("user_topic_operations", Admin.operations(user.describeTopics(List.of(topic),
                        new DescribeTopicsOptions().includeAuthorizedOperations(true))
                        .allTopicNames().get().get(topic).authorizedOperations()));
            }
            out.put("total", admin.describeAcls(AclBindingFilter.ANY).values().get().size());
            out.put("deleted", admin.deleteAcls(List.of(users)).all().get().size());
            out.put("after", describe(admin.describeAcls(users).values().get()));
        }
        try (AdminClient user = AdminClient.create(sasl(bootstrap, a[3], a[4]))) {
            out.put("refused", Admin.errorName(() -> user.createAcls(bindings).all().get()));
        }
        return out;
    }

    private static List<String> describe(java.util.Collection<AclBinding> found) {
        List<String> out = new ArrayList<>();
        for (AclBinding b : found) {
            out.add(b.pattern().resourceType() + " " + b.pattern().name() + " " + b.pattern().patternType()
                    + " " + b.entry().principal() + " " + b.entry().operation() + " " + b.entry().permissionType());
        }
        out.sort(null);
        return out;
    }

    private static Properties sasl(String bootstrap, String user, String password) {
        Properties p = Client.props(bootstrap, "java-acls-" + user);
        p.put("security.protocol", "SASL_PLAINTEXT");
        p.put("sasl.mechanism", "SCRAM-SHA-256");
        p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                + user + "\" password=\"" + password + "\";");
        return p;
    }
}
