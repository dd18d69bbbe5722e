// kafkajs scenario driven by tests/kafka_js.rs: produce, then consume in a group.
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic, group] = process.argv.slice(2);
const COUNT = 30;

async function main() {
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
  const seen = new Set();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen.size} of ${COUNT} consumed`)), 60000);
    consumer.run({
      eachMessage: async ({ message }) => {
        if (message.headers.h.toString() !== `v${message.value.toString().slice(3)}`) {
          reject(new Error(`header mismatch on ${message.value}`));
        }
        seen.add(message.value.toString());
        if (seen.size === COUNT) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  console.log(JSON.stringify({ consumed: seen.size }));
}

main().catch((e) => {
  console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
