// kafkajs scenarios driven by tests/kafka_js.rs: produce, then consume in a
// group; or (`discover`) list every topic, subscribe by regex, list groups and
// their offsets; or (`small-fetch`) read large records with tiny fetch limits. kafkajs comes from KAFKAJS_PATH (pinned or newest install).
const { Kafka, logLevel } = require(process.env.KAFKAJS_PATH || 'kafkajs');

const COUNT = 30;

/** Consumes until `want` distinct values were seen (60 s deadline). */
function consumeUntil(consumer, want, onMessage) {
  const seen = new Set();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen.size} of ${want} consumed`)), 60000);
    consumer.run({
      eachMessage: async (payload) => {
        onMessage(payload, reject);
        seen.add(`${payload.topic}/${payload.message.value}`);
        if (seen.size === want) {
          clearTimeout(timer);
          resolve(seen);
        }
      },
    }).catch(reject);
  });
}

async function discover(bootstrap, prefix, group) {
  const kafka = new Kafka({ clientId: 'weir-test', brokers: [bootstrap], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  const names = [`${prefix}-a`, `${prefix}-b`, `other-${prefix}`];
  await admin.createTopics({ topics: names.map((topic) => ({ topic, numPartitions: 1 })) });
  const producer = kafka.producer();
  await producer.connect();
  for (const topic of names) {
    const messages = [];
    for (let i = 0; i < COUNT; i++) messages.push({ value: `${topic}-${i}` });
    await producer.send({ topic, messages });
  }
  await producer.disconnect();
  const listed = (await admin.listTopics()).sort();
  // No topic list: metadata of every topic.
  const described = (await admin.fetchTopicMetadata()).topics.map((t) => t.name).sort();

  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topics: [new RegExp(`^${prefix}-.*`)], fromBeginning: true });
  const topics = new Set();
  const seen = await consumeUntil(consumer, 2 * COUNT, ({ topic }) => topics.add(topic));
  await consumer.disconnect();

  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).sort();
  const offsets = {};
  for (const t of await admin.fetchOffsets({ groupId: group, topics: [`${prefix}-a`, `${prefix}-b`] })) {
    for (const p of t.partitions) offsets[`${t.topic}:${p.partition}`] = Number(p.offset);
  }
  await admin.disconnect();
  console.log(JSON.stringify({
    topics: listed, described, consumed: seen.size, from_topics: [...topics].sort(), groups, offsets,
  }));
}

async function main(bootstrap, topic, group) {
  const kafka = new Kafka({ clientId: 'weir-test', brokers: [bootstrap], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  await admin.disconnect();

  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < COUNT; i++) {
    messages.push({ key: `k${i}`, value: `js-${i}`, headers: { h: `v${i}` } });
  }
  await producer.send({ topic, messages, acks: -1 });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = await consumeUntil(consumer, COUNT, ({ message }, reject) => {
    if (message.headers.h.toString() !== `v${message.value.toString().slice(3)}`) {
      reject(new Error(`header mismatch on ${message.value}`));
    }
  });
  await consumer.disconnect();
  console.log(JSON.stringify({ consumed: seen.size }));
}

/** Large records read with fetch limits far below one record: each fetch still
 * brings the first batch, so every record arrives. */
async function smallFetch(bootstrap, topic, group) {
  const kafka = new Kafka({ clientId: 'weir-test', brokers: [bootstrap], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < COUNT; i++) {
    const value = `${String(i).padStart(6, '0')}${'x'.repeat(20000)}`;
    await producer.send({ topic, messages: [{ value, partition: i % 3 }] });
  }
  await producer.disconnect();
  const consumer = kafka.consumer({
    groupId: group, sessionTimeout: 10000, heartbeatInterval: 500, maxBytes: 1024, maxBytesPerPartition: 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = await consumeUntil(consumer, COUNT, () => {});
  await consumer.disconnect();
  console.log(JSON.stringify({ consumed: seen.size }));
}

const args = process.argv.slice(2);
const scenarios = { discover, 'small-fetch': smallFetch };
(scenarios[args[0]] ? scenarios[args[0]](...args.slice(1)) : main(...args)).catch((e) => {
  console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
