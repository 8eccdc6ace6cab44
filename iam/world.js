// The accounts, stacks and principals the cases are evaluated in: one provider stack
// (provider-regional.yaml) per parameter variant, two collected clusters
// (collector-cluster-role.yaml) and four customers (customer-log-delivery-role.yaml; one
// stack creates its log group and SSE-KMS bucket), each resolved with the values an
// operator or customer would give them, and the resource policies IAM would consult for
// each resource. A variant with a `replica` adds the provider stack of a second region
// (ReadModelMode global-replica) and a cluster collected there, evaluated together with
// the primary region's resources.

import { fileURLToPath } from 'node:url';
import { loadTemplate, policyDocument, resolveStack } from './cfn.js';

const TEMPLATES = fileURLToPath(new URL('../cloudformation/', import.meta.url));

export const REGION = 'eu-west-1';
/** The second region of the multi-region variant (ReadModelMode global-replica). */
export const REPLICA_REGION = 'eu-central-1';
export const PROVIDER = '111111111111';
export const OUTSIDER = '999999999999';
export const KMS_KEY = `arn:aws:kms:${REGION}:${PROVIDER}:key/3f1c2b7e-8d4a-4e6b-9a1f-5c2d7e8f9a0b`;
const OIDC = `oidc.eks.${REGION}.amazonaws.com/id/8A1F3C5D7E9B2A4C6E8F0A1B3C5D7E9F`;

/**
 * The provider stack's variants: both WorkerModes, each with and without IRSA and SSE-KMS;
 * and a global read model whose replica region has a provider stack of its own
 * (`replica`: that stack's region and parameters).
 */
export const VARIANTS = [
  { label: 'kubernetes, defaults', parameters: {} },
  {
    label: 'kubernetes, IRSA + SSE-KMS',
    parameters: { OidcProviderHostPath: OIDC, StagingBucketKmsKeyArn: KMS_KEY, TemplateBucketName: `logspoke-templates-${PROVIDER}` },
  },
  {
    label: 'lambda, zip',
    parameters: { WorkerMode: 'lambda', WorkerCodeBucket: `logspoke-templates-${PROVIDER}`, WorkerCodeKey: 'worker/1.4.0.zip' },
  },
  {
    label: 'lambda, image + IRSA + SSE-KMS',
    parameters: {
      WorkerMode: 'lambda',
      WorkerImageUri: `${PROVIDER}.dkr.ecr.${REGION}.amazonaws.com/logspoke-worker:1.4.0`,
      WorkerFunctionTimeoutSeconds: '900',
      OidcProviderHostPath: OIDC,
      StagingBucketKmsKeyArn: KMS_KEY,
      TemplateBucketName: `logspoke-templates-${PROVIDER}`,
    },
  },
  {
    label: `kubernetes, global read model + replica region ${REPLICA_REGION}`,
    parameters: { ReadModelMode: 'global-primary', ReadModelReplica1Region: REPLICA_REGION },
    replica: {
      region: REPLICA_REGION,
      parameters: { ReadModelMode: 'global-replica', PrimaryRegion: REGION, CreateProviderRole: 'false' },
    },
  },
];

/** The collected clusters (ids as the collectors' site settings name them). */
export const CLUSTERS = ['prod-eu-1', 'staging.eu-2'];
/** The cluster collected in the replica region (multi-region variant only). */
export const REPLICA_CLUSTERS = ['prod-fra-1'];

/** The customers: what each one's quick-create link fills in. */
export const CUSTOMERS = {
  acme: {
    account: '222222222222',
    externalId: 'Qm7ZkR2vT9xLw4NcP8sJ3hYd6FgB1aUe',
    parameters: {
      LogGroupName: '/k8s/acme-prod', BucketName: 'acme-k8s-logs', BucketPrefix: 'k8s/logs/', RoleName: 'LogspokeDelivery',
      // An existing topic of its account for notifications.
      NotificationTopicArn: `arn:aws:sns:${REGION}:222222222222:acme-alerts`,
    },
  },
  globex: {
    account: '333333333333',
    externalId: 'Xv3Lq8Wd1Tn6Rb9Yk2Ps5Hm7Jc4Gf0Za',
    parameters: { LogGroupName: 'globex-apps' },
  },
  initech: {
    account: '444444444444',
    externalId: 'Ep5Ns2Ku8Dw1Mz7Vb4Qt9Ly3Rh6Xc0Ja',
    // An existing bucket; its S3 config encrypts the copies with one of its keys.
    parameters: { BucketName: 'initech-audit-logs', BucketKmsKeyArn: `arn:aws:kms:${REGION}:444444444444:key/3f1e2d4c-5b6a-4789-8a0b-1c2d3e4f5a6b` },
  },
  // The stack creates both destinations: the log group (with its own KMS key, which
  // CloudWatch Logs uses itself) and an SSE-KMS bucket.
  hooli: {
    account: '555555555555',
    externalId: 'Hq2Wm7Zt4Kc9Pv1Xd6Ns3Br8Lf5Gj0Ya',
    parameters: {
      LogGroupName: '/hooli/k8s',
      CreateLogGroup: 'true',
      LogGroupRetentionDays: '90',
      LogGroupKmsKeyArn: `arn:aws:kms:${REGION}:555555555555:key/0c4f6a1e-2b3d-4e5f-8a9b-1c2d3e4f5a6b`,
      BucketName: 'hooli-k8s-logs',
      BucketPrefix: 'logspoke/',
      CreateBucket: 'true',
      BucketExpirationDays: '365',
      BucketKmsKeyArn: `arn:aws:kms:${REGION}:555555555555:key/7e8f9a0b-1c2d-4e3f-9a5b-6c7d8e9f0a1b`,
      // The stack creates the notification topic with an e-mail subscription.
      NotificationEmail: 'ops@hooli.example',
    },
  },
};

/** KMS keys of the customers' accounts (hooli's, and initech's bucket key), each with the default key policy. */
export const CUSTOMER_KMS_KEYS = {
  initechBucket: CUSTOMERS.initech.parameters.BucketKmsKeyArn,
  bucket: CUSTOMERS.hooli.parameters.BucketKmsKeyArn,
  logGroup: CUSTOMERS.hooli.parameters.LogGroupKmsKeyArn,
  other: `arn:aws:kms:${REGION}:555555555555:key/2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a`,
};

const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

const templates = {
  provider: loadTemplate(`${TEMPLATES}provider-regional.yaml`),
  collector: loadTemplate(`${TEMPLATES}collector-cluster-role.yaml`),
  customer: loadTemplate(`${TEMPLATES}customer-log-delivery-role.yaml`),
};

/** Every stack of one provider variant, its principals and its resources' policies. */
export function buildWorld(variant) {
  const provider = resolveStack(templates.provider, {
    stackName: 'logspoke',
    account: PROVIDER,
    region: REGION,
    parameters: variant.parameters,
  });
  const out = provider.outputs;
  const collectors = collectorStacks(provider, CLUSTERS);
  // The replica region's provider stack: the same account and NamePrefix, no provider
  // role of its own (IAM is global), no config-changes topic (the primary's).
  const replica = variant.replica && resolveStack(templates.provider, {
    stackName: 'logspoke',
    account: PROVIDER,
    region: variant.replica.region,
    parameters: variant.replica.parameters,
  });
  if (replica) checkReplicaRules(variant.replica);
  const replicaCollectors = replica ? collectorStacks(replica, REPLICA_CLUSTERS) : {};
  checkCustomerRules(out.ProviderRoleArn);
  const customers = Object.fromEntries(
    Object.entries(CUSTOMERS).map(([name, c]) => [
      name,
      resolveStack(templates.customer, {
        stackName: 'logspoke-delivery',
        account: c.account,
        region: REGION,
        parameters: { ExternalId: c.externalId, ProviderRoleArn: out.ProviderRoleArn, ...c.parameters },
      }),
    ]),
  );

  const stacks = [provider, ...Object.values(collectors), ...Object.values(customers)];
  if (replica) stacks.push(replica, ...Object.values(replicaCollectors));
  const roles = new Map(); // role ARN → { stack, logicalId, properties }
  const policies = new Map(); // resource ARN → resource policy
  const owners = new Map(); // resource ARN or bucket name → owning account
  for (const stack of stacks) {
    for (const [logicalId, r] of Object.entries(stack.resources)) {
      const where = `${stack.name}.${logicalId}`;
      switch (r.type) {
        case 'AWS::IAM::Role':
          if (r.properties.ManagedPolicyArns || r.properties.PermissionsBoundary) {
            throw new Error(`${where}: managed policies and boundaries are not modelled`);
          }
          roles.set(r.attributes.Arn, { stack, logicalId, properties: r.properties });
          policies.set(r.attributes.Arn, policyDocument(r.properties.AssumeRolePolicyDocument, `${where} trust policy`));
          owners.set(r.attributes.Arn, stack.account);
          break;
        case 'AWS::S3::Bucket':
          owners.set(r.ref, stack.account);
          break;
        case 'AWS::S3::BucketPolicy':
          policies.set(`bucket:${r.properties.Bucket}`, policyDocument(r.properties.PolicyDocument, where));
          break;
        case 'AWS::SNS::Topic':
          // A topic without a TopicPolicy keeps the policy SNS gives every new topic.
          policies.set(r.ref, defaultTopicPolicy(r.ref, stack.account));
          break;
        case 'AWS::SQS::QueuePolicy':
          for (const url of r.properties.Queues) {
            const queue = Object.values(stack.resources).find((q) => q.type === 'AWS::SQS::Queue' && q.ref === url);
            if (!queue) throw new Error(`${where}: ${url} is not a queue of the stack`);
            policies.set(queue.attributes.Arn, policyDocument(r.properties.PolicyDocument, where));
          }
          break;
        default:
      }
    }
  }
  // A TopicPolicy replaces the topic's default policy.
  for (const stack of stacks) {
    for (const [logicalId, r] of Object.entries(stack.resources)) {
      if (r.type === 'AWS::SNS::TopicPolicy') {
        for (const topic of r.properties.Topics) policies.set(topic, policyDocument(r.properties.PolicyDocument, `${stack.name}.${logicalId}`));
      }
    }
  }
  for (const c of Object.values(CUSTOMERS)) {
    if (c.parameters.BucketName) owners.set(c.parameters.BucketName, c.account);
  }
  if (provider.parameters.TemplateBucketName) owners.set(provider.parameters.TemplateBucketName, PROVIDER);
  // The worker replicas' own config-change queues carry the policy the worker sets on
  // them (delivery-worker/src/tenants/subscription.rs, allow_topic): only the topic of
  // its stack's ConfigTopicArn (in a replica region, the primary's) may send.
  const ownConfigQueue = (stack) => {
    const queue = `arn:aws:sqs:${stack.region}:${PROVIDER}:${stack.outputs.ConfigQueueNamePrefix}5f0c3e9a1b7d4c62`;
    policies.set(queue, {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'sns.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: queue,
          Condition: { ArnEquals: { 'aws:SourceArn': stack.outputs.ConfigTopicArn } },
        },
      ],
    });
    return queue;
  };
  const configQueue = ownConfigQueue(provider);
  // The KMS key's policy delegates to IAM in its account (the key's default policy).
  policies.set(KMS_KEY, {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${PROVIDER}:root` }, Action: 'kms:*', Resource: '*' }],
  });

  // The customer's keys delegate to IAM in their account (the default key policy).
  for (const key of Object.values(CUSTOMER_KMS_KEYS)) {
    const account = key.split(':')[4];
    policies.set(key, {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' }],
    });
  }

  const principals = {};
  const addRole = (key, arn) => {
    const role = roles.get(arn);
    if (!role) throw new Error(`no role ${arn} in the stacks`);
    principals[key] = rolePrincipal(key, arn, role.stack.account, identityPolicies(role));
  };
  addRole('api role', out.ApiRoleArn);
  addRole('worker role', out.WorkerRoleArn);
  addRole('provider role', out.ProviderRoleArn);
  for (const [cluster, stack] of Object.entries(collectors)) addRole(`collector role of ${cluster}`, stack.outputs.CollectorRoleArn);
  if (replica) {
    const at = ` (${replica.region})`;
    addRole(`api role${at}`, replica.outputs.ApiRoleArn);
    addRole(`worker role${at}`, replica.outputs.WorkerRoleArn);
    for (const [cluster, stack] of Object.entries(replicaCollectors)) addRole(`collector role of ${cluster}${at}`, stack.outputs.CollectorRoleArn);
  }
  for (const [name, stack] of Object.entries(customers)) addRole(`${name}'s delivery role`, stack.outputs.RoleArn);
  const admin = (key, account, roleName) =>
    (principals[key] = rolePrincipal(key, `arn:aws:iam::${account}:role/${roleName}`, account, [{ name: 'admin', policy: ALLOW_ALL }]));
  admin('an admin role of the provider account', PROVIDER, 'Admin');
  admin('an admin role of another account', OUTSIDER, 'Admin');
  admin("another account's role named like the provider role", OUTSIDER, 'LogspokeProvider');
  // Named like a worker role (NamePrefix-worker-REGION) of a region without a stack,
  // without any policy of its own.
  const prefix = provider.parameters.NamePrefix;
  principals['a role of the provider account named like a worker role, without policies'] = rolePrincipal(
    'a role of the provider account named like a worker role, without policies',
    `arn:aws:iam::${PROVIDER}:role/${prefix}-worker-ap-southeast-2`,
    PROVIDER,
    [],
  );
  for (const key of ['api role', 'worker role', 'provider role', `collector role of ${CLUSTERS[0]}`]) {
    principals[`${key}, if it were allowed everything`] = {
      ...principals[key],
      key: `${key}, if it were allowed everything`,
      identityPolicies: [...principals[key].identityPolicies, { name: 'admin', policy: ALLOW_ALL }],
    };
  }
  for (const service of ['s3.amazonaws.com', 'sns.amazonaws.com', 'lambda.amazonaws.com']) {
    principals[service] = { key: service, arn: service, service: true, identityPolicies: [] };
  }

  const lambda = provider.conditions.LambdaWorker;
  return {
    label: variant.label,
    lambda,
    kms: provider.conditions.UsesKms,
    oidc: provider.conditions.HasOidc,
    provider,
    collectors,
    customers,
    out,
    configQueue,
    /** The replica region's stack (multi-region variant only), as { stack, out, configQueue, collectors }. */
    replica: replica && { stack: replica, out: replica.outputs, configQueue: ownConfigQueue(replica), collectors: replicaCollectors },
    principals,
    roles,
    /** The resource policy IAM consults for `arn`, if any. */
    resourcePolicy(arn) {
      if (policies.has(arn)) return policies.get(arn);
      const bucket = s3Bucket(arn);
      return bucket ? policies.get(`bucket:${bucket}`) : undefined;
    },
    /** The account owning `arn` (S3 ARNs carry none: the bucket's), if known. */
    owner(arn) {
      if (owners.has(arn)) return owners.get(arn);
      const bucket = s3Bucket(arn);
      if (bucket) return owners.get(bucket);
      const account = arn.split(':')[4];
      return /^\d{12}$/.test(account) ? account : undefined;
    },
  };
}

/** The collector stacks of `clusters`, in the region of (and for) the provider stack `provider`. */
function collectorStacks(provider, clusters) {
  const region = provider.region;
  return Object.fromEntries(
    clusters.map((cluster) => [
      cluster,
      resolveStack(templates.collector, {
        stackName: `logspoke-collector-${cluster.replace(/[^A-Za-z0-9-]/g, '-')}`,
        account: PROVIDER,
        region,
        parameters: {
          ClusterId: cluster,
          StagingBucketName: provider.outputs.StagingBucketName,
          ...(provider.parameters.StagingBucketKmsKeyArn && { StagingBucketKmsKeyArn: provider.parameters.StagingBucketKmsKeyArn }),
          ...(provider.parameters.OidcProviderHostPath && { OidcProviderHostPath: `oidc.eks.${region}.amazonaws.com/id/${cluster.replace(/\W/g, '').toUpperCase()}` }),
        },
      }),
    ]),
  );
}

/**
 * The replica region's stack is only evaluated as deployed correctly: its Rules must
 * refuse the parameters of a stack that would name no topic, or its own region's.
 */
function checkReplicaRules({ region, parameters }) {
  for (const [given, rule] of [
    [{ ...parameters, PrimaryRegion: '' }, 'ReplicaNeedsPrimaryRegion'],
    [{ ...parameters, PrimaryRegion: region }, 'ReplicaNeedsPrimaryRegion'],
    [{ PrimaryRegion: REGION }, 'PrimaryRegionOnlyForReplicas'],
  ]) {
    let accepted = true;
    try {
      resolveStack(templates.provider, { stackName: 'logspoke', account: PROVIDER, region, parameters: given });
    } catch (err) {
      if (!err.message.startsWith(`rule ${rule}:`)) throw err;
      accepted = false;
    }
    if (accepted) throw new Error(`the provider stack in ${region} accepts ${JSON.stringify(given)}: rule ${rule} should refuse it`);
  }
}

/**
 * The customer stack is evaluated only as launched with consistent parameters: its Rules
 * must refuse a Create* without the name of what to create, and settings of a created
 * destination for one it does not create (BucketKmsKeyArn is not one: it is the key of
 * the copies, also for an existing bucket).
 */
function checkCustomerRules(providerRoleArn) {
  const base = { ExternalId: CUSTOMERS.hooli.externalId, ProviderRoleArn: providerRoleArn };
  const key = CUSTOMER_KMS_KEYS.bucket;
  for (const [given, rule] of [
    [{ BucketName: 'b-logs', CreateLogGroup: 'true' }, 'LogGroupToCreate'],
    [{ LogGroupName: 'g', CreateBucket: 'true' }, 'BucketToCreate'],
    [{ LogGroupName: 'g', LogGroupKmsKeyArn: key }, 'LogGroupKeyOnlyWhenCreated'],
    [{ BucketName: 'b-logs', BucketExpirationDays: '30' }, 'BucketSettingsOnlyWhenCreated'],
    [{ BucketName: 'b-logs', NotificationEmail: 'a@b.example', NotificationTopicArn: `arn:aws:sns:${REGION}:555555555555:t` }, 'OneNotificationTopic'],
  ]) {
    let accepted = true;
    try {
      resolveStack(templates.customer, { stackName: 'logspoke-delivery', account: CUSTOMERS.hooli.account, region: REGION, parameters: { ...base, ...given } });
    } catch (err) {
      if (!err.message.startsWith(`rule ${rule}:`)) throw err;
      accepted = false;
    }
    if (accepted) throw new Error(`the customer stack accepts ${JSON.stringify(given)}: rule ${rule} should refuse it`);
  }
}

function s3Bucket(arn) {
  const m = /^arn:[^:]+:s3:::([^/]+)/.exec(arn);
  return m ? m[1] : undefined;
}

function rolePrincipal(key, roleArn, account, identityPolicies) {
  const name = roleArn.split('/').pop();
  return { key, roleArn, account, arn: `arn:aws:sts::${account}:assumed-role/${name}/iam-suite`, identityPolicies };
}

function identityPolicies(role) {
  return (role.properties.Policies ?? []).map((p) => ({
    name: p.PolicyName,
    policy: policyDocument(p.PolicyDocument, `${role.stack.name}.${role.logicalId} policy ${p.PolicyName}`),
  }));
}

/**
 * The policy SNS gives a topic that has no topic policy of its own: every principal of
 * the owner's account may manage the topic, publish to it and subscribe to it (SNS
 * writes this grant with the AWS:SourceOwner key; aws:PrincipalAccount is its meaning
 * for a call made directly by a principal).
 */
function defaultTopicPolicy(topicArn, account) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DefaultTopicPolicy',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: [
          'sns:GetTopicAttributes',
          'sns:SetTopicAttributes',
          'sns:AddPermission',
          'sns:RemovePermission',
          'sns:DeleteTopic',
          'sns:Subscribe',
          'sns:ListSubscriptionsByTopic',
          'sns:Publish',
        ],
        Resource: topicArn,
        Condition: { StringEquals: { 'aws:PrincipalAccount': account } },
      },
    ],
  };
}
