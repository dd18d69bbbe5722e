// kafkajs transactions driven by tests/kafka_js.rs: commit, abort, commit with
// sendOffsets; a read_committed consumer must see the committed records only,
// and the group the offsets committed with the transaction.
// kafkajs comes from KAFKAJS_PATH (pinned or newest install).
const { Kafka, logLevel } = require(process.env.KAFKAJS_PATH || 'kafkajs');

async function main(bootstrap, topic, group) {
  const kafka = new Kafka({ clientId: 'weir-txn', brokers: [bootstrap], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  const producer = kafka.producer({ transactionalId: `${topic}-txn`, maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  const batch = (prefix) => Array.from({ length: 10 }, (_, i) => ({ value: `${prefix}-${i}` }));
  for (const [prefix, end] of [['a', 'commit'], ['b', 'abort'], ['c', 'offsets']]) {
    const txn = await producer.transaction();
    await txn.send({ topic, messages: batch(prefix) });
    if (end === 'abort') {
      await txn.abort();
      continue;
    }
    if (end === 'offsets') {
      await txn.sendOffsets({
        consumerGroupId: group,
        topics: [{ topic, partitions: [{ partition: 0, offset: '20' }] }],
      });
    }
    await txn.commit();
  }
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `${group}-reader`, sessionTimeout: 10000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const seen = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen.length} of 20 consumed: ${seen}`)), 60000);
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value.toString());
        if (seen.length === 20) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  await admin.disconnect();
  const committed = offsets[0].partitions.find((p) => p.partition === 0).offset;
  console.log(JSON.stringify({ seen, committed }));
}

main(...process.argv.slice(2)).catch((e) => {
  console.error(e);
  process.exit(1);
});
