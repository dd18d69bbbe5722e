package weir;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.AdminClient;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.DescribeConsumerGroupsOptions;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * `admin BOOTSTRAP PREFIX`: AdminClient's topic, config, partition and group calls, each
 * checked through another: createTopics (PREFIX-a with 2 partitions and retention.ms, PREFIX-b;
 * PREFIX-a again must fail), listTopics, describeTopics (with the authorized operations),
 * describeConfigs (with each entry's type),
 * incrementalAlterConfigs, createPartitions, deleteTopics, and for group PREFIX-g (offsets
 * committed by a consumer) listConsumerGroups, describeConsumerGroups (with the authorized
 * operations) and
 * listConsumerGroupOffsets. Prints what each call answered.
 */
final class Admin {
    private Admin() {}

    static Json run(String[] a) throws Exception {
        String bootstrap = a[0];
        String prefix = a[1];
        String ta = prefix + "-a";
        String tb = prefix + "-b";
        String group = prefix + "-g";
        Json out = new Json();
        try (AdminClient admin = AdminClient.create(Client.props(bootstrap, "java-admin"))) {
            admin.createTopics(List.of(
                    new NewTopic(ta, 2, (short) 1).configs(Map.of("retention.ms", "3600000")),
                    new NewTopic(tb, 1, (short) 1))).all().get();
            out.put("create_again", errorName(() ->
                    admin.createTopics(List.of(new NewTopic(ta, 1, (short) 1))).all().get()));
            out.put("listed", mine(admin.listTopics().names().get(), prefix));
            out.put("partitions", partitionCount(admin, ta));
            out.put("topic_operations", operations(admin.describeTopics(List.of(ta),
                    new DescribeTopicsOptions().includeAuthorizedOperations(true))
                    .allTopicNames().get().get(ta).authorizedOperations()));

            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, ta);
            out.put("retention_before", config(admin, res, "retention.ms"));
            Config all = admin.describeConfigs(List.of(res)).all().get().get(res);
            out.put("types", Map.of(
                    "retention.ms", String.valueOf(all.get("retention.ms").type()),
                    "cleanup.policy", String.valueOf(all.get("cleanup.policy").type()),
                    "min.cleanable.dirty.ratio", String.valueOf(all.get("min.cleanable.dirty.ratio").type()),
                    "segment.bytes", String.valueOf(all.get("segment.bytes").type()),
                    "preallocate", String.valueOf(all.get("preallocate").type())));
            out.put("untyped", all.entries().stream()
                    .filter(e -> e.type() == ConfigEntry.ConfigType.UNKNOWN).map(ConfigEntry::name).toList());
            admin.incrementalAlterConfigs(Map.of(res, List.of(
                    new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.SET))))
                    .all().get();
            out.put("retention_after", config(admin, res, "retention.ms"));
            out.put("cleanup_after", config(admin, res, "cleanup.policy"));

            admin.createPartitions(Map.of(ta, NewPartitions.increaseTo(4))).all().get();
            out.put("partitions_after", partitionCount(admin, ta));
            out.put("shrink", errorName(() ->
                    admin.createPartitions(Map.of(ta, NewPartitions.increaseTo(2))).all().get()));

            commitOffsets(bootstrap, group, ta);
            List<String> groups = new ArrayList<>();
            for (ConsumerGroupListing l : admin.listConsumerGroups().all().get()) {
                groups.add(l.groupId());
            }
            out.put("groups", mine(groups, prefix));
            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            out.put("group_state", String.valueOf(d.groupState()));
            out.put("group_members", d.members().size());
            out.put("group_operations", operations(admin.describeConsumerGroups(List.of(group),
                    new DescribeConsumerGroupsOptions().includeAuthorizedOperations(true))
                    .all().get().get(group).authorizedOperations()));
            Map<TopicPartition, OffsetAndMetadata> offsets =
                    admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            List<String> listed = new ArrayList<>();
            offsets.forEach((tp, o) -> listed.add(tp + "=" + o.offset()));
            listed.sort(null);
            out.put("group_offsets", listed);

            admin.deleteTopics(List.of(tb)).all().get();
            out.put("listed_after_delete", mine(admin.listTopics().names().get(), prefix));
            out.put("describe_deleted", errorName(() -> admin.describeTopics(List.of(tb)).allTopicNames().get()));
        }
        return out;
    }

    /** Commits offsets 1 and 2 on TOPIC's partitions 0 and 1 as GROUP, leaving it empty. */
    private static void commitOffsets(String bootstrap, String group, String topic) {
        Properties p = Client.props(bootstrap, "java-admin-member");
        p.put("group.id", group);
        p.put("enable.auto.commit", "false");
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            c.commitSync(Map.of(
                    new TopicPartition(topic, 0), new OffsetAndMetadata(1),
                    new TopicPartition(topic, 1), new OffsetAndMetadata(2)), Duration.ofSeconds(10));
        }
    }

    private static int partitionCount(AdminClient admin, String topic) throws Exception {
        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        return d.partitions().size();
    }

    private static String config(AdminClient admin, ConfigResource res, String name) throws Exception {
        Config c = admin.describeConfigs(List.of(res)).all().get().get(res);
        ConfigEntry e = c.get(name);
        return e == null ? null : e.value();
    }

    /** The operations sorted by name; null (the client's "not answered") stays null. */
    static List<String> operations(Set<AclOperation> ops) {
        return ops == null ? null : new ArrayList<>(new TreeSet<>(ops.stream().map(Enum::name).toList()));
    }

    private static List<String> mine(Collection<String> names, String prefix) {
        return new ArrayList<>(new TreeSet<>(names.stream().filter(n -> n.startsWith(prefix)).toList()));
    }

    interface Call {
        void call() throws Exception;
    }

    /** The simple name of the exception a call failed with, or null when it succeeded. */
    static String errorName(Call call) throws Exception {
        try {
            call.call();
            return null;
        } catch (ExecutionException e) {
            return e.getCause().getClass().getSimpleName();
        }
    }
}
