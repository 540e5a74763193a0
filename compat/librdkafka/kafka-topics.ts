/**
 * The subset of Apache Kafka's kafka-topics.sh that librdkafka's tests use, done with the admin
 * API (kafkajs) against `--bootstrap-server`:
 *   --create --topic T [--partitions N] [--replication-factor N] [--config k=v]...
 *   --alter --topic T --partitions N
 *   --delete --topic T
 * Exits non-zero with the broker's error when the operation fails, as the real tool does.
 */
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

const { values } = parseArgs({
  options: {
    'bootstrap-server': { type: 'string' },
    create: { type: 'boolean', default: false },
    alter: { type: 'boolean', default: false },
    delete: { type: 'boolean', default: false },
    topic: { type: 'string' },
    partitions: { type: 'string' },
    'replication-factor': { type: 'string' },
    config: { type: 'string', multiple: true, default: [] },
  },
});

const bootstrap = values['bootstrap-server'];
const topic = values.topic;
if (bootstrap === undefined || topic === undefined) {
  console.error('kafka-topics: --bootstrap-server and --topic are required');
  process.exit(2);
}

const admin = new Kafka({
  clientId: 'kafka-topics',
  brokers: bootstrap.split(','),
  logLevel: logLevel.ERROR,
}).admin();
await admin.connect();
try {
  if (values.create) {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: values.partitions === undefined ? -1 : Number(values.partitions),
          replicationFactor:
            values['replication-factor'] === undefined ? -1 : Number(values['replication-factor']),
          configEntries: values.config.map((entry) => {
            const at = entry.indexOf('=');
            return { name: entry.slice(0, at), value: entry.slice(at + 1) };
          }),
        },
      ],
    });
    if (!created) throw new Error(`topic ${topic} already exists`);
    console.log(`Created topic ${topic}.`);
  } else if (values.alter) {
    if (values.partitions === undefined) throw new Error('--alter needs --partitions');
    await admin.createPartitions({
      topicPartitions: [{ topic, count: Number(values.partitions) }],
    });
  } else if (values.delete) {
    await admin.deleteTopics({ topics: [topic] });
  } else {
    throw new Error('one of --create, --alter, --delete is required');
  }
} catch (error) {
  console.error(`kafka-topics: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await admin.disconnect();
}
