/**
 * `brook cluster info`: the cluster's id, controller and brokers (DescribeCluster, or Metadata
 * from older brokers), and what one broker said when the client connected (ApiVersions): each
 * API it serves with its version range and the version Brook's client uses, and its features.
 * Kafka's protocol has no field for a broker's software version, so the version shown is the
 * Apache Kafka release whose protocol the broker speaks, inferred from the API versions it serves
 * (as kafka-python and Sarama infer it), with its finalized features (`metadata.version`, ...).
 */
import {
  API_TABLE,
  type ApiDescriptor,
  type ClusterDescription,
  type Connection,
} from '@brook/client';
import type { Register } from '../cli.ts';
import {
  addClusterOptions,
  type ClusterOptionValues,
  CommandError,
  clusterSettings,
  integer,
  json,
  table,
  withAdmin,
  write,
} from '../common.ts';
import type { Context } from '../io.ts';

interface InfoOptions extends ClusterOptionValues {
  json?: boolean;
  broker?: number;
}

export const register: Register = (program, context) => {
  const cluster = program
    .command('cluster')
    .description('the cluster: brokers, controller, cluster id, API versions')
    .addHelpText(
      'after',
      `
Examples:
  brook cluster info
  brook cluster info --json | jq .brokers`,
    );
  addClusterOptions(
    cluster
      .command('info')
      .description(
        'the cluster id, the controller, the brokers, and the API versions and features of a broker',
      )
      .option('--json', 'one JSON document on stdout, for scripts')
      .option(
        '--broker <id>',
        'whose API versions to show (default: the broker it reached first)',
        integer('--broker', { min: 0 }),
      ),
  )
    .addHelpText(
      'after',
      `
The API table shows, per API, the versions the broker serves (MIN to MAX) and the version
Brook's client uses with it (USABLE; '-' when none). Kafka's protocol does not carry a broker's
software version: the version line names the Apache Kafka release whose protocol the broker
speaks, inferred from the newest API versions it serves, and its finalized features (such as
metadata.version).

Examples:
  brook cluster info
  brook cluster info --broker 2
  brook cluster info --json | jq '.apiVersions.apis[] | select(.name == "Fetch")'`,
    )
    .action((options: InfoOptions) => info(context, options));
};

interface ApiRow {
  readonly name: string | null;
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly usableVersion: number | null;
}

interface Info {
  readonly description: ClusterDescription;
  readonly nodeId: number | null;
  readonly host: string;
  readonly port: number;
  readonly apis: readonly ApiRow[];
  readonly supportedFeatures: readonly { name: string; minVersion: number; maxVersion: number }[];
  readonly finalizedFeatures: readonly {
    name: string;
    minVersionLevel: number;
    maxVersionLevel: number;
  }[];
  readonly finalizedFeaturesEpoch: bigint;
}

const BY_KEY = new Map<number, ApiDescriptor>(API_TABLE.map((api) => [api.apiKey, api]));

/**
 * Apache Kafka releases, newest first, each with an API version it was the first to serve: the
 * first one a broker serves names the protocol level it speaks. (Facts from Kafka's release
 * notes and KIPs, as clients that infer a broker's version use them.)
 */
const RELEASE_MARKERS: readonly { release: string; apiKey: number; version: number }[] = [
  { release: '3.9', apiKey: 1, version: 17 }, // Fetch v17 (KIP-853)
  { release: '3.8', apiKey: 0, version: 11 }, // Produce v11 (KIP-951)
  { release: '3.7', apiKey: 1, version: 16 }, // Fetch v16 (KIP-951)
  { release: '3.5', apiKey: 1, version: 15 }, // Fetch v15 (KIP-903)
  { release: '3.3', apiKey: 29, version: 3 }, // DescribeAcls v3
  { release: '3.2', apiKey: 11, version: 9 }, // JoinGroup v9 (KIP-800)
  { release: '3.1', apiKey: 1, version: 13 }, // Fetch v13 (topic ids, KIP-516)
  { release: '3.0', apiKey: 2, version: 7 }, // ListOffsets v7 (KIP-734)
  { release: '2.8', apiKey: 0, version: 9 }, // Produce v9 (flexible versions)
  { release: '2.7', apiKey: 1, version: 12 }, // Fetch v12 (flexible versions)
  { release: '2.6', apiKey: 16, version: 4 }, // ListGroups v4 (KIP-518)
  { release: '2.5', apiKey: 11, version: 7 }, // JoinGroup v7
  { release: '2.4', apiKey: 0, version: 8 }, // Produce v8 (KIP-467)
  { release: '2.3', apiKey: 1, version: 11 }, // Fetch v11 (KIP-392)
  { release: '2.2', apiKey: 2, version: 5 }, // ListOffsets v5
  { release: '2.1', apiKey: 1, version: 10 }, // Fetch v10 (zstd, KIP-110)
  { release: '2.0', apiKey: 1, version: 8 }, // Fetch v8
  { release: '1.1', apiKey: 1, version: 7 }, // Fetch v7 (fetch sessions, KIP-227)
  { release: '1.0', apiKey: 3, version: 5 }, // Metadata v5
  { release: '0.11', apiKey: 3, version: 4 }, // Metadata v4
];

/** The Kafka release whose protocol a broker serving `apis` speaks (null: older than 0.11). */
export function inferKafkaRelease(
  apis: readonly { apiKey: number; minVersion: number; maxVersion: number }[],
): string | null {
  const byKey = new Map(apis.map((api) => [api.apiKey, api]));
  for (const marker of RELEASE_MARKERS) {
    const api = byKey.get(marker.apiKey);
    if (api !== undefined && api.minVersion <= marker.version && marker.version <= api.maxVersion) {
      return marker.release;
    }
  }
  return null;
}

async function info(context: Context, options: InfoOptions): Promise<void> {
  const settings = clusterSettings(options, context.io);
  const found = await withAdmin(settings, async (admin): Promise<Info> => {
    const description = await admin.describeCluster();
    let connection: Connection;
    if (options.broker !== undefined) {
      if (!description.brokers.some((b) => b.nodeId === options.broker)) {
        const ids = description.brokers.map((b) => b.nodeId).join(', ');
        throw new CommandError(
          `broker ${options.broker} is not in the cluster (its brokers: ${ids || 'none'})`,
        );
      }
      connection = await admin.cluster.connection(options.broker);
    } else {
      connection = await admin.cluster.anyConnection();
    }
    return infoOf(description, connection);
  });
  await write(context.io.stdout, options.json ? json(infoJson(found)) : infoText(found));
}

function infoOf(description: ClusterDescription, connection: Connection): Info {
  const answer = connection.apiVersionsResponse;
  const node = description.brokers.find(
    (b) => b.host === connection.host && b.port === connection.port,
  );
  const apis = [...(answer?.apiKeys ?? [])]
    .sort((a, b) => a.apiKey - b.apiKey)
    .map((api): ApiRow => {
      const ours = BY_KEY.get(api.apiKey);
      return {
        name: ours?.name ?? null,
        apiKey: api.apiKey,
        minVersion: api.minVersion,
        maxVersion: api.maxVersion,
        usableVersion: ours === undefined ? null : (connection.versionFor(ours.request) ?? null),
      };
    });
  return {
    description,
    nodeId: node?.nodeId ?? null,
    host: connection.host,
    port: connection.port,
    apis,
    supportedFeatures: (answer?.supportedFeatures ?? []).map((f) => ({
      name: f.name,
      minVersion: f.minVersion,
      maxVersion: f.maxVersion,
    })),
    finalizedFeatures: (answer?.finalizedFeatures ?? []).map((f) => ({
      name: f.name,
      minVersionLevel: f.minVersionLevel,
      maxVersionLevel: f.maxVersionLevel,
    })),
    finalizedFeaturesEpoch: answer?.finalizedFeaturesEpoch ?? -1n,
  };
}

function infoText(found: Info): string {
  const { description } = found;
  const features =
    found.finalizedFeatures.length === 0
      ? 'none finalized'
      : found.finalizedFeatures.map((f) => `${f.name}=${f.maxVersionLevel}`).join(', ');
  const controller = description.brokers.find((b) => b.nodeId === description.controllerId);
  const lines = [
    `Cluster id:  ${description.clusterId ?? '-'}`,
    `Controller:  ${description.controllerId < 0 ? 'none known' : description.controllerId}${controller === undefined ? '' : ` (${address(controller)})`}`,
    `Brokers:     ${description.brokers.length}`,
    `Version:     ${versionText(found)}; features: ${features}`,
  ];
  const brokers = table(
    ['BROKER', 'ADDRESS', 'RACK', 'CONTROLLER'],
    description.brokers.map((b) => [
      String(b.nodeId),
      address(b),
      b.rack ?? '-',
      b.nodeId === description.controllerId ? 'yes' : '-',
    ]),
  );
  const whose =
    found.nodeId === null
      ? `the broker at ${address(found)}`
      : `broker ${found.nodeId} (${address(found)})`;
  const apis = table(
    ['API', 'KEY', 'MIN', 'MAX', 'USABLE'],
    found.apis.map((api) => [
      api.name ?? 'unknown',
      String(api.apiKey),
      String(api.minVersion),
      String(api.maxVersion),
      api.usableVersion === null ? '-' : String(api.usableVersion),
    ]),
  );
  return `${lines.join('\n')}\n\n${brokers}\nAPI versions of ${whose}:\n${apis}`;
}

function versionText(found: Info): string {
  const release = inferKafkaRelease(found.apis);
  return release === null
    ? 'older than Kafka 0.11 (inferred from its API versions)'
    : `speaks the protocol of Apache Kafka ${release} (inferred from its API versions)`;
}

function infoJson(found: Info) {
  const { description } = found;
  return {
    clusterId: description.clusterId,
    controllerId: description.controllerId,
    /** The Kafka release whose protocol the broker speaks, inferred from its API versions. */
    kafkaProtocolRelease: inferKafkaRelease(found.apis),
    brokers: description.brokers.map((b) => ({
      nodeId: b.nodeId,
      host: b.host,
      port: b.port,
      rack: b.rack,
      controller: b.nodeId === description.controllerId,
    })),
    apiVersions: {
      nodeId: found.nodeId,
      host: found.host,
      port: found.port,
      apis: found.apis,
      supportedFeatures: found.supportedFeatures,
      finalizedFeatures: found.finalizedFeatures,
      finalizedFeaturesEpoch: found.finalizedFeaturesEpoch,
    },
  };
}

function address(broker: { host: string; port: number }): string {
  return broker.host.includes(':')
    ? `[${broker.host}]:${broker.port}`
    : `${broker.host}:${broker.port}`;
}
