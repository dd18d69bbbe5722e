// kafkajs over SASL/SCRAM, driven by tests/auth.rs and tests/tls.rs:
// `BOOTSTRAP MECHANISM USER PASSWORD TOPIC [CA]` produces 20 records and consumes them
// in a group, authenticated (mechanism "scram-sha-256" or "scram-sha-512"), over TLS
// trusting the PEM file CA when one is given (SASL_SSL); prints one JSON line.
// kafkajs comes from KAFKAJS_PATH (pinned or newest install).
const fs = require('fs');
const { Kafka, logLevel } = require(process.env.KAFKAJS_PATH || 'kafkajs');

const COUNT = 20;

async function main([bootstrap, mechanism, username, password, topic, ca]) {
  const kafka = new Kafka({
    clientId: 'weir-test',
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    sasl: { mechanism, username, password },
    ...(ca ? { ssl: { ca: [fs.readFileSync(ca, 'utf8')] } } : {}),
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < COUNT; i++) messages.push({ value: `v${i}` });
  await producer.send({ topic, messages });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `${topic}-group` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen.size} of ${COUNT} consumed`)), 60000);
    consumer.run({
      eachMessage: async ({ message }) => {
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

main(process.argv.slice(2)).catch((e) => {
  console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
