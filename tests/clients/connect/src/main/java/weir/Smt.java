package weir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.header.ConnectHeaders;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.storage.SimpleHeaderConverter;
import org.apache.kafka.connect.transforms.Transformation;
import org.apache.kafka.connect.transforms.predicates.Predicate;

/**
 * Applies a chain of Connect transformations, configured as a connector would be
 * ({@code transforms=a,b}, {@code transforms.a.type=...}, {@code predicates=...}), to records
 * described in JSON, converting keys and values with JsonConverter (schemas.enable=false) and
 * headers with SimpleHeaderConverter, as Connect's worker does.
 *
 * <p>stdin: {"cases": [{"config": {...}, "records": [{"topic", "partition", "offset", "key",
 * "value", "timestamp", "headers": [[k, v]]}]}]} with key, value and header values as text (or
 * null). stdout: one JSON array with, per case, {"config_error": "..."} or an array with, per
 * input record, its result: a record of the same shape, null when dropped, or {"error": "..."}.
 * One run answers many cases: a JVM start costs more than all of them.
 */
public final class Smt {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static final class Step {
    Transformation<SinkRecord> transform;
    Predicate<SinkRecord> predicate;
    boolean negate;
  }

  private static String qualified(String type, String pkg) {
    return type.contains(".") ? type : pkg + "." + type;
  }

  private static Map<String, String> prefixed(Map<String, String> config, String prefix) {
    Map<String, String> out = new HashMap<>();
    for (Map.Entry<String, String> e : config.entrySet()) {
      if (e.getKey().startsWith(prefix)) {
        out.put(e.getKey().substring(prefix.length()), e.getValue());
      }
    }
    return out;
  }

  private static List<String> list(String value) {
    List<String> out = new ArrayList<>();
    if (value == null) {
      return out;
    }
    for (String s : value.split(",")) {
      if (!s.trim().isEmpty()) {
        out.add(s.trim());
      }
    }
    return out;
  }

  @SuppressWarnings("unchecked")
  private static List<Step> chain(Map<String, String> config) throws Exception {
    Map<String, Predicate<SinkRecord>> predicates = new HashMap<>();
    for (String p : list(config.get("predicates"))) {
      Map<String, String> props = prefixed(config, "predicates." + p + ".");
      String type = qualified(props.remove("type"), "org.apache.kafka.connect.transforms.predicates");
      Predicate<SinkRecord> pred =
          (Predicate<SinkRecord>) Class.forName(type).getDeclaredConstructor().newInstance();
      pred.configure(props);
      predicates.put(p, pred);
    }
    List<Step> steps = new ArrayList<>();
    for (String a : list(config.get("transforms"))) {
      Map<String, String> props = prefixed(config, "transforms." + a + ".");
      String type = qualified(props.remove("type"), "org.apache.kafka.connect.transforms");
      Step step = new Step();
      String pred = props.remove("predicate");
      step.negate = Boolean.parseBoolean(props.remove("negate"));
      if (pred != null) {
        step.predicate = predicates.get(pred);
      }
      step.transform =
          (Transformation<SinkRecord>) Class.forName(type).getDeclaredConstructor().newInstance();
      step.transform.configure(props);
      steps.add(step);
    }
    return steps;
  }

  private static byte[] bytes(JsonNode n) {
    return n == null || n.isNull() ? null : n.asText().getBytes(StandardCharsets.UTF_8);
  }

  private static String text(byte[] b) {
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  public static void main(String[] args) throws Exception {
    ArrayNode results = JSON.createArrayNode();
    for (JsonNode c : JSON.readTree(System.in).get("cases")) {
      results.add(run(c));
    }
    System.out.println(results);
  }

  private static JsonNode run(JsonNode input) throws Exception {
    Map<String, String> config = new HashMap<>();
    Iterator<Map.Entry<String, JsonNode>> fields = input.get("config").fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> e = fields.next();
      config.put(e.getKey(), e.getValue().asText());
    }
    JsonConverter keys = new JsonConverter();
    keys.configure(Map.of("schemas.enable", "false"), true);
    JsonConverter values = new JsonConverter();
    values.configure(Map.of("schemas.enable", "false"), false);
    SimpleHeaderConverter headers = new SimpleHeaderConverter();
    headers.configure(Map.of());

    ArrayNode out = JSON.createArrayNode();
    List<Step> steps;
    try {
      steps = chain(config);
    } catch (Exception e) {
      ObjectNode err = JSON.createObjectNode();
      err.put("config_error", e.getClass().getSimpleName() + ": " + e.getMessage());
      return err;
    }
    for (JsonNode r : input.get("records")) {
      String topic = r.get("topic").asText();
      try {
        SchemaAndValue k = keys.toConnectData(topic, bytes(r.get("key")));
        SchemaAndValue v = values.toConnectData(topic, bytes(r.get("value")));
        ConnectHeaders hs = new ConnectHeaders();
        JsonNode hn = r.get("headers");
        if (hn != null) {
          for (JsonNode h : hn) {
            String name = h.get(0).asText();
            hs.add(name, headers.toConnectHeader(topic, name, bytes(h.get(1))));
          }
        }
        SinkRecord rec =
            new SinkRecord(
                topic,
                r.path("partition").asInt(0),
                k.schema(),
                k.value(),
                v.schema(),
                v.value(),
                r.path("offset").asLong(0),
                r.get("timestamp").asLong(),
                org.apache.kafka.common.record.TimestampType.CREATE_TIME,
                hs);
        for (Step s : steps) {
          if (rec == null) {
            break;
          }
          if (s.predicate == null || s.predicate.test(rec) != s.negate) {
            rec = s.transform.apply(rec);
          }
        }
        if (rec == null) {
          out.addNull();
          continue;
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("topic", rec.topic());
        o.put("key", text(keys.fromConnectData(rec.topic(), rec.keySchema(), rec.key())));
        o.put("value", text(values.fromConnectData(rec.topic(), rec.valueSchema(), rec.value())));
        if (rec.timestamp() == null) {
          o.putNull("timestamp");
        } else {
          o.put("timestamp", rec.timestamp());
        }
        ArrayNode oh = o.putArray("headers");
        for (Header h : rec.headers()) {
          ArrayNode pair = oh.addArray();
          pair.add(h.key());
          pair.add(text(headers.fromConnectHeader(rec.topic(), h.key(), h.schema(), h.value())));
        }
        out.add(o);
      } catch (Exception e) {
        ObjectNode err = JSON.createObjectNode();
        err.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
        out.add(err);
      }
    }
    return out;
  }
}
