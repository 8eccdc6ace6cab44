// The matrix: who may do what, for one world (one provider variant with its collector
// and customer stacks). Each case names a principal of the world, an action, one
// resource, optional request context keys, and the decision IAM must reach; `why` says
// what the case protects. Cases whose answer depends on the variant compute `expect`;
// the multi-region cases exist only in the variant with a replica region (w.replica).

import { CLUSTERS, CUSTOMER_KMS_KEYS, CUSTOMERS, OUTSIDER, PROVIDER, REGION, REPLICA_CLUSTERS } from './world.js';

export function casesFor(w) {
  const cases = [];
  const add = (expect) => (group, who, action, resource, why, extra = {}) =>
    cases.push({ group, who, action, resource, expect, why, ...extra });
  const allow = add('allow');
  const deny = add('deny');
  const when = (condition) => (condition ? allow : deny);

  const out = w.out;
  const res = (logicalId, attribute = 'Arn') => w.provider.resources[logicalId].attributes[attribute];
  const bucket = out.StagingBucketName;
  const staged = (key) => `arn:aws:s3:::${bucket}/${key}`;
  const configTopic = out.ConfigTopicArn;
  const payloadsTopic = out.LogPayloadsTopicArn;
  const deliveryQueue = res('DeliveryQueue');
  const overflowQueue = res('DeliveryOverflowQueue');
  const deadLetterQueue = res('DeliveryDeadLetterQueue');
  const ledger = res('DeliveryLedgerTable');
  const readModel = `arn:aws:dynamodb:${REGION}:${PROVIDER}:table/${out.ReadModelTableName}`;
  const providerRole = out.ProviderRoleArn;
  const customerRole = (name) => w.customers[name].outputs.RoleArn;
  const externalId = (name) => ({ 'sts:ExternalId': CUSTOMERS[name].externalId });
  const collector = (cluster) => `collector role of ${cluster}`;
  const stagedFile = '1700000000-0b6e2f4c9d3a4f1e8a7b6c5d4e3f2a1b.json.gz';
  const lax = (account, path, name) => ({
    resource: `arn:aws:iam::${account}:role${path}${name}`,
    resourcePolicy: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: providerRole }, Action: 'sts:AssumeRole' }],
    },
  });

  // ------------------------------------------------------------- provider role --------
  {
    const g = 'provider role assumes';
    allow(g, 'provider role', 'sts:AssumeRole', customerRole('acme'), "a customer's delivery role with its ExternalId", { context: externalId('acme') });
    const laxRole = lax(CUSTOMERS.acme.account, '/logspoke/', 'trusts-without-external-id');
    allow(g, 'provider role', 'sts:AssumeRole', laxRole.resource, 'a /logspoke/ role of another account that trusts it, with an ExternalId', {
      ...laxRole, context: { 'sts:ExternalId': 'any-external-id-at-all-0123456789' },
    });
    deny(g, 'provider role', 'sts:AssumeRole', laxRole.resource, 'no role without an ExternalId, even one whose trust policy forgot it', laxRole);
    for (const [path, name] of [['/', 'LogspokeDelivery'], ['/logspoke-collector/', 'x'], ['/team/logspoke/', 'delivery'], ['/', 'logspoke'], ['/logspokex/', 'delivery']]) {
      const role = lax(CUSTOMERS.acme.account, path, name);
      deny(g, 'provider role', 'sts:AssumeRole', role.resource, 'only roles under the path /logspoke/', { ...role, context: externalId('acme') });
    }
    const own = lax(PROVIDER, '/logspoke/', 'named-as-a-delivery-role');
    deny(g, 'provider role', 'sts:AssumeRole', own.resource, 'never a role of its own account, not even under /logspoke/', { ...own, context: externalId('acme') });
    for (const arn of [out.ApiRoleArn, out.WorkerRoleArn, w.collectors[CLUSTERS[0]].outputs.CollectorRoleArn]) {
      deny(g, 'provider role', 'sts:AssumeRole', arn, "never the provider account's own workload roles", { context: externalId('acme') });
    }
    deny(g, 'provider role', 's3:PutObject', `arn:aws:s3:::${CUSTOMERS.acme.parameters.BucketName}/k8s/logs/x`, 'it does nothing but assume roles');
    deny(g, 'provider role', 's3:GetObject', staged(`acme/${CLUSTERS[0]}/a/p/${stagedFile}`), 'it does nothing but assume roles');
  }

  // ------------------------------------------------------ customer roles: trust -------
  for (const name of Object.keys(CUSTOMERS)) {
    const g = `${name}'s delivery role is assumed by`;
    const role = customerRole(name);
    const other = Object.keys(CUSTOMERS).find((n) => n !== name);
    allow(g, 'provider role', 'sts:AssumeRole', role, 'the provider role with this tenant\'s ExternalId', { context: externalId(name) });
    deny(g, 'provider role', 'sts:AssumeRole', role, "a wrong ExternalId (another tenant's)", { context: externalId(other) });
    deny(g, 'provider role', 'sts:AssumeRole', role, 'a wrong ExternalId (a prefix of the right one)', { context: { 'sts:ExternalId': CUSTOMERS[name].externalId.slice(0, -1) } });
    deny(g, 'provider role', 'sts:AssumeRole', role, 'a missing ExternalId');
    deny(g, 'provider role, if it were allowed everything', 'sts:AssumeRole', role, 'a missing ExternalId, whatever the provider role may do');
    for (const who of [
      "another account's role named like the provider role",
      'an admin role of another account',
      'an admin role of the provider account',
      'api role',
      'worker role',
      collector(CLUSTERS[0]),
      'api role, if it were allowed everything',
      'worker role, if it were allowed everything',
      `${collector(CLUSTERS[0])}, if it were allowed everything`,
    ]) {
      deny(g, who, 'sts:AssumeRole', role, 'nobody but the provider role, even with the right ExternalId', { context: externalId(name) });
    }
  }

  // ------------------------------------------------ customer roles: permissions -------
  {
    const acme = CUSTOMERS.acme;
    const who = "acme's delivery role";
    const g = 'acme (log group and bucket prefix) may';
    const group = (account, region, name) => `arn:aws:logs:${region}:${account}:log-group:${name}`;
    const ownGroup = group(acme.account, REGION, acme.parameters.LogGroupName);
    allow(g, who, 'logs:CreateLogStream', `${ownGroup}:log-stream:${CLUSTERS[0]}/checkout/checkout-7d9f`, 'create streams in its log group');
    allow(g, who, 'logs:PutLogEvents', `${ownGroup}:log-stream:${CLUSTERS[0]}/checkout/checkout-7d9f`, 'write events into its log group');
    deny(g, who, 'logs:PutLogEvents', `${group(acme.account, REGION, `${acme.parameters.LogGroupName}-archive`)}:log-stream:s`, 'not a group whose name starts with its own');
    deny(g, who, 'logs:PutLogEvents', `${group(acme.account, REGION, '/k8s/acme')}:log-stream:s`, 'not another group');
    deny(g, who, 'logs:CreateLogStream', `${group(acme.account, 'us-east-1', acme.parameters.LogGroupName)}:log-stream:s`, "not its group's namesake in another region");
    for (const action of ['logs:DeleteLogGroup', 'logs:PutRetentionPolicy', 'logs:DescribeLogStreams', 'logs:CreateLogGroup']) {
      deny(g, who, action, ownGroup, 'only create streams and put events');
    }
    deny(g, who, 'logs:GetLogEvents', `${ownGroup}:log-stream:s`, 'never read its logs');
    const ownBucket = acme.parameters.BucketName;
    const key = (k, b = ownBucket) => `arn:aws:s3:::${b}/${k}`;
    allow(g, who, 's3:PutObject', key(`k8s/logs/acme/${CLUSTERS[0]}/checkout/pod/${stagedFile}`), 'put objects under its prefix');
    allow(g, who, 's3:DeleteObject', key('k8s/logs/_logspoke-verification/0b6e2f4c-9d3a-4f1e.txt'), 'remove the verification marker');
    deny(g, who, 's3:PutObject', key('k8s/logs-archive/x.json.gz'), 'not under a prefix that only starts like its own');
    deny(g, who, 's3:PutObject', key('k8s/x.json.gz'), 'not above its prefix');
    deny(g, who, 's3:PutObject', key('other/k8s/logs/x.json.gz'), 'not outside its prefix');
    deny(g, who, 's3:PutObject', key('k8s/logs/x.json.gz', 'acme-finance-records'), 'not another bucket of the account', { owner: acme.account });
    deny(g, who, 's3:DeleteObject', key(`k8s/logs/acme/${CLUSTERS[0]}/checkout/pod/${stagedFile}`), 'not delete delivered logs');
    for (const action of ['s3:GetObject', 's3:PutObjectAcl', 's3:GetObjectAcl']) {
      deny(g, who, action, key(`k8s/logs/acme/${stagedFile}`), 'neither read objects nor change their ACLs');
    }
    deny(g, who, 's3:ListBucket', `arn:aws:s3:::${ownBucket}`, 'not list the bucket');
    deny(g, who, 's3:DeleteBucket', `arn:aws:s3:::${ownBucket}`, 'not delete the bucket');
    // The bucket was deleted and its name taken by another account whose policy lets
    // anyone write: the role must still only write to a bucket of its own account.
    const anyoneWrites = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: ['s3:PutObject', 's3:DeleteObject'], Resource: `arn:aws:s3:::${ownBucket}/*` }],
    };
    for (const [action, k] of [['s3:PutObject', 'k8s/logs/acme/x.json.gz'], ['s3:DeleteObject', 'k8s/logs/_logspoke-verification/m.txt']]) {
      deny(g, who, action, key(k), "not into its bucket's name once another account owns it (s3:ResourceAccount)", {
        owner: OUTSIDER,
        resourcePolicy: anyoneWrites,
      });
    }

    const globex = CUSTOMERS.globex;
    const gg = 'globex (log group only) may';
    const globexGroup = group(globex.account, REGION, globex.parameters.LogGroupName);
    allow(gg, "globex's delivery role", 'logs:PutLogEvents', `${globexGroup}:log-stream:s`, 'write into its log group');
    deny(gg, "globex's delivery role", 's3:PutObject', `arn:aws:s3:::globex-logs/x`, 'no S3 access without a bucket', { owner: globex.account });
    deny(gg, "globex's delivery role", 'logs:PutLogEvents', `${ownGroup}:log-stream:s`, "not acme's log group");

    const initech = CUSTOMERS.initech;
    const gi = 'initech (whole bucket, no log group) may';
    const ib = (k) => `arn:aws:s3:::${initech.parameters.BucketName}/${k}`;
    allow(gi, "initech's delivery role", 's3:PutObject', ib(`initech/${CLUSTERS[1]}/api/pod/${stagedFile}`), 'put objects anywhere in its bucket (no prefix)');
    allow(gi, "initech's delivery role", 's3:DeleteObject', ib('_logspoke-verification/m.txt'), 'remove the verification marker');
    deny(gi, "initech's delivery role", 's3:DeleteObject', ib(`initech/${stagedFile}`), 'not delete delivered logs');
    deny(gi, "initech's delivery role", 's3:PutObject', ib('x.json.gz'), "not into its bucket's name once another account owns it (s3:ResourceAccount)", {
      owner: OUTSIDER,
      resourcePolicy: { ...anyoneWrites, Statement: [{ ...anyoneWrites.Statement[0], Resource: ib('*') }] },
    });
    // An existing bucket with the config's KMS key: data keys through this region's S3 only.
    const initechKey = initech.parameters.BucketKmsKeyArn;
    allow(gi, "initech's delivery role", 'kms:GenerateDataKey', initechKey, "data keys of its config's key through S3 (SSE-KMS copies into an existing bucket)", { context: { 'kms:ViaService': `s3.${REGION}.amazonaws.com` } });
    deny(gi, "initech's delivery role", 'kms:GenerateDataKey', initechKey, 'no data keys outside S3 (kms:ViaService)');
    deny(gi, "initech's delivery role", 'kms:Decrypt', initechKey, 'reads nothing', { context: { 'kms:ViaService': `s3.${REGION}.amazonaws.com` } });
    deny(gi, "initech's delivery role", 'logs:CreateLogStream', `${group(initech.account, REGION, 'anything')}:log-stream:s`, 'no log group access without a log group');

    // hooli's stack created its log group (with a KMS key) and an SSE-KMS bucket.
    const hooli = CUSTOMERS.hooli;
    const hw = "hooli's delivery role";
    const gh = 'hooli (log group and SSE-KMS bucket created by the stack) may';
    const hooliStack = w.customers.hooli;
    const createdGroup = hooliStack.resources.LogGroup;
    if (!createdGroup || !hooliStack.resources.Bucket) throw new Error("hooli's stack creates no log group or no bucket");
    const hooliGroup = group(hooli.account, REGION, hooli.parameters.LogGroupName);
    allow(gh, hw, 'logs:CreateLogStream', `${hooliGroup}:log-stream:${CLUSTERS[0]}/web/web-0`, 'create streams in the group its stack created');
    allow(gh, hw, 'logs:PutLogEvents', `${hooliGroup}:log-stream:${CLUSTERS[0]}/web/web-0`, 'write events into the group its stack created');
    deny(gh, hw, 'logs:PutLogEvents', `${group(hooli.account, REGION, `${hooli.parameters.LogGroupName}-other`)}:log-stream:s`, 'not a group whose name starts with the created one');
    deny(gh, hw, 'logs:PutLogEvents', `${group(hooli.account, REGION, '/hooli/other')}:log-stream:s`, 'not another group of the account');
    for (const action of ['logs:DeleteLogGroup', 'logs:PutRetentionPolicy', 'logs:DeleteRetentionPolicy', 'logs:AssociateKmsKey', 'logs:DisassociateKmsKey', 'logs:CreateLogGroup']) {
      deny(gh, hw, action, hooliGroup, 'not change or delete the group its stack created (retention, key)');
    }
    // CloudWatch Logs uses the group's key as its own service principal: the role needs,
    // and has, no KMS permission for it.
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt', 'kms:Encrypt']) {
      deny(gh, hw, action, CUSTOMER_KMS_KEYS.logGroup, "no use of the log group's key", { context: { 'kms:ViaService': `logs.${REGION}.amazonaws.com` } });
    }
    const hb = (k) => `arn:aws:s3:::${hooli.parameters.BucketName}/${k}`;
    allow(gh, hw, 's3:PutObject', hb(`logspoke/hooli/${CLUSTERS[0]}/web/web-0/${stagedFile}`), 'put objects under its prefix in the bucket its stack created');
    deny(gh, hw, 's3:PutObject', hb(`other/${stagedFile}`), 'not outside its prefix');
    const s3Here = { 'kms:ViaService': `s3.${REGION}.amazonaws.com` };
    allow(gh, hw, 'kms:GenerateDataKey', CUSTOMER_KMS_KEYS.bucket, "data keys of the bucket's key through S3 (SSE-KMS PutObject)", { context: s3Here });
    deny(gh, hw, 'kms:GenerateDataKey', CUSTOMER_KMS_KEYS.bucket, "no data keys of the bucket's key outside S3 (kms:ViaService)");
    deny(gh, hw, 'kms:GenerateDataKey', CUSTOMER_KMS_KEYS.bucket, 'no data keys through another service', { context: { 'kms:ViaService': `sqs.${REGION}.amazonaws.com` } });
    deny(gh, hw, 'kms:GenerateDataKey', CUSTOMER_KMS_KEYS.bucket, "no data keys through another region's S3", { context: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } });
    deny(gh, hw, 'kms:GenerateDataKey', CUSTOMER_KMS_KEYS.other, 'no data keys of another key of the account, even through S3', { context: s3Here });
    for (const action of ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncryptFrom', 'kms:CreateGrant', 'kms:PutKeyPolicy']) {
      deny(gh, hw, action, CUSTOMER_KMS_KEYS.bucket, "only data keys (single PutObject calls need no kms:Decrypt; it reads nothing)", { context: s3Here });
    }
    for (const [action, resource] of [['s3:DeleteBucket', `arn:aws:s3:::${hooli.parameters.BucketName}`], ['s3:PutLifecycleConfiguration', `arn:aws:s3:::${hooli.parameters.BucketName}`], ['s3:PutEncryptionConfiguration', `arn:aws:s3:::${hooli.parameters.BucketName}`]]) {
      deny(gh, hw, action, resource, 'not change or delete the bucket its stack created');
    }
    // Notifications: publish to the topic its stack created, nothing else of SNS.
    const hooliTopic = hooliStack.outputs.NotificationTopicArn;
    allow(gh, hw, 'sns:Publish', hooliTopic, 'publish notifications to the topic its stack created');
    for (const action of ['sns:Subscribe', 'sns:SetTopicAttributes', 'sns:DeleteTopic', 'sns:ListSubscriptionsByTopic']) {
      deny(gh, hw, action, hooliTopic, 'not subscribe, read or change the notification topic');
    }
    deny(gh, hw, 'sns:Publish', `arn:aws:sns:${REGION}:${hooli.account}:other-topic`, 'not publish to another topic of the account');
    deny(gh, "acme's delivery role", 'sns:Publish', hooliTopic, "another customer's role: not publish to hooli's topic");
    allow('acme (log group and bucket prefix) may', "acme's delivery role", 'sns:Publish', acme.parameters.NotificationTopicArn, 'publish notifications to the existing topic it was given');
    deny('acme (log group and bucket prefix) may', "acme's delivery role", 'sns:Publish', `arn:aws:sns:${REGION}:${acme.account}:acme-billing`, 'not publish to another topic of the account');
    deny('initech (whole bucket, no log group) may', "initech's delivery role", 'sns:Publish', `arn:aws:sns:${REGION}:${CUSTOMERS.initech.account}:alerts`, 'no SNS permission without a notification topic');
    // The other customers' roles have no KMS permission at all.
    deny(gh, "acme's delivery role", 'kms:GenerateDataKey', CUSTOMER_KMS_KEYS.bucket, "another customer's role: no use of hooli's key", { context: s3Here });
    deny('acme (log group and bucket prefix) may', "acme's delivery role", 'kms:GenerateDataKey', `arn:aws:kms:${REGION}:${acme.account}:key/5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d`,
      'no KMS permission without a BucketKmsKeyArn', {
        context: s3Here,
        resourcePolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acme.account}:root` }, Action: 'kms:*', Resource: '*' }] },
      });
  }

  // ------------------------------------------------------------ collector roles -------
  for (const [i, cluster] of CLUSTERS.entries()) {
    const other = CLUSTERS[(i + 1) % CLUSTERS.length];
    const who = collector(cluster);
    const g = `collector role of ${cluster} writes`;
    const own = `acme/${cluster}/checkout/checkout-7d9f-abcde/${stagedFile}`;
    allow(g, who, 's3:PutObject', staged(own), "its own cluster's keys");
    allow(g, who, 's3:AbortMultipartUpload', staged(own), "its own cluster's keys (multipart)");
    allow(g, who, 's3:PutObject', staged(`globex/${cluster}/api/api-0/${stagedFile}`), "its own cluster's keys for another of its tenants");
    allow(g, who, 's3:PutObject', staged(`acme/${cluster}/prod/checkout/checkout-7d9f-abcde/${stagedFile}`), "its own cluster's keys with a namespace");
    deny(g, who, 's3:PutObject', staged(`acme/${other}/prod/checkout/pod-0/${stagedFile}`), "not another cluster's keys with a namespace");
    deny(g, who, 's3:PutObject', staged(`acme/${other}/${cluster}/checkout/pod-0/${stagedFile}`), 'not its cluster id as the namespace of another cluster\'s key');
    const refused = [
      [`acme/${other}/checkout/pod-0/${stagedFile}`, "another cluster's keys"],
      [`acme/${other}/${cluster}/pod-0/${stagedFile}`, 'its cluster id as a later segment'],
      [`acme/${other}/checkout/${cluster}/${stagedFile}`, 'its cluster id as a later segment (the pod)'],
      [`acme/${cluster}/${cluster}/pod-0/${stagedFile}`, 'its cluster id repeated as the application (the documented price)'],
      [`${cluster}/checkout/pod-0/${stagedFile}`, 'its cluster id as the first segment'],
      [`acme/${cluster}0/checkout/pod-0/${stagedFile}`, 'a cluster id that starts with its own'],
      [`acme//${cluster}/checkout/pod-0/${stagedFile}`, 'an empty segment before its cluster id (//)'],
      [`/${cluster}/checkout/pod-0/${stagedFile}`, 'an empty tenant segment (a leading /)'],
      [`acme/${cluster}//pod-0/${stagedFile}`, 'an empty segment after its cluster id (//)'],
      [`acme/../${cluster}/checkout/pod-0/${stagedFile}`, 'a .. segment before its cluster id'],
      [`../${cluster}/checkout/pod-0/${stagedFile}`, 'a .. tenant segment'],
      [`acme/${cluster}/../../globex/${other}/pod-0/${stagedFile}`, '.. segments after its cluster id'],
      [`acme/${cluster}/./checkout/pod-0/${stagedFile}`, 'a . segment'],
    ];
    for (const [key, why] of refused) {
      deny(g, who, 's3:PutObject', staged(key), `not ${why}`);
      deny(g, who, 's3:AbortMultipartUpload', staged(key), `not ${why} (multipart)`);
    }
    deny(g, who, 's3:PutObject', staged(own), 'not over plain HTTP', { context: { 'aws:SecureTransport': 'false' } });
    deny(g, who, 's3:PutObject', `arn:aws:s3:::logspoke-staging-${PROVIDER}-us-east-1/${own}`, "not into another region's staging bucket", { owner: PROVIDER });
    for (const action of ['s3:GetObject', 's3:DeleteObject', 's3:PutObjectAcl']) {
      deny(g, who, action, staged(own), 'nothing but writes');
    }
    deny(g, who, 's3:ListBucket', `arn:aws:s3:::${bucket}`, 'no listing');
    const via = (service) => ({ context: { 'kms:ViaService': service } });
    const s3Here = `s3.${REGION}.amazonaws.com`;
    when(w.kms)(g, who, 'kms:GenerateDataKey', w.provider.parameters.StagingBucketKmsKeyArn || 'arn:aws:kms:eu-west-1:111111111111:key/none',
      'data keys for the staging bucket through S3 (SSE-KMS only)', via(s3Here));
    when(w.kms)(g, who, 'kms:Decrypt', w.provider.parameters.StagingBucketKmsKeyArn || 'arn:aws:kms:eu-west-1:111111111111:key/none',
      'decrypt through S3 for multipart uploads (SSE-KMS only)', via(s3Here));
    if (w.kms) {
      const key = w.provider.parameters.StagingBucketKmsKeyArn;
      deny(g, who, 'kms:GenerateDataKey', key, 'no data keys outside S3 (kms:ViaService)');
      deny(g, who, 'kms:Decrypt', key, 'no decryption outside S3 (kms:ViaService)');
      deny(g, who, 'kms:Decrypt', key, 'no decryption through another service', via(`sqs.${REGION}.amazonaws.com`));
      deny(g, who, 'kms:Decrypt', key, "no decryption through another region's S3", via('s3.us-east-1.amazonaws.com'));
      deny(g, who, 'kms:Encrypt', key, 'no direct encryption', via(s3Here));
    }
    deny(g, who, 'sns:Publish', configTopic, 'no config changes');
    deny(g, who, 'sns:Publish', payloadsTopic, 'no notifications of its own');
    deny(g, who, 'sqs:SendMessage', deliveryQueue, 'no messages to the delivery queue');
    deny(g, who, 'sts:AssumeRole', providerRole, 'not the provider role');
  }

  // ----------------------------------------------------------------- api role ---------
  {
    const g = 'api role';
    const keys = (...k) => ({ context: { 'dynamodb:LeadingKeys': k } });
    allow(g, 'api role', 'dynamodb:PutItem', ledger, 'creates replay jobs (partition replay)', keys('replay'));
    allow(g, 'api role', 'dynamodb:UpdateItem', ledger, 'cancels replay jobs (partition replay)', keys('replay'));
    deny(g, 'api role', 'dynamodb:PutItem', ledger, 'writes no delivery record', keys('acme#cloudwatch'));
    deny(g, 'api role', 'dynamodb:UpdateItem', ledger, 'writes no health item', keys('health'));
    deny(g, 'api role', 'dynamodb:PutItem', ledger, 'writes no item of another partition next to a replay job', keys('replay', 'acme#s3'));
    deny(g, 'api role', 'dynamodb:UpdateItem', ledger, 'writes nothing when the request names no partition key (Null guard)', { context: { 'dynamodb:LeadingKeys': null } });
    deny(g, 'api role', 'dynamodb:DeleteItem', ledger, 'deletes nothing from the ledger, not even a replay job', keys('replay'));
    deny(g, 'api role', 'dynamodb:BatchWriteItem', ledger, 'no batch writes to the ledger', keys('replay'));
    for (const action of ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query']) {
      allow(g, 'api role', action, ledger, 'reads the ledger (delivery health, replay progress)', keys('health'));
    }
    deny(g, 'api role', 'dynamodb:Scan', ledger, 'never scans the ledger');
    deny(g, 'api role', 'dynamodb:Query', `${ledger}/index/open-replay-jobs`, "the workers' index of open replay jobs is theirs");
    for (const action of ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:Scan']) {
      allow(g, 'api role', action, readModel, 'writes and reads the read model (outbox relay)');
    }
    deny(g, 'api role', 'dynamodb:UpdateItem', readModel, 'writes the read model with PutItem/DeleteItem only');
    deny(g, 'api role', 'dynamodb:PutItem', `arn:aws:dynamodb:us-east-1:${PROVIDER}:table/${out.ReadModelTableName}`, "not another region's replica");
    allow(g, 'api role', 'sns:Publish', configTopic, 'publishes config changes');
    deny(g, 'api role', 'sns:Subscribe', configTopic, 'does not subscribe to config changes', { context: { 'sns:Protocol': 'sqs', 'sns:Endpoint': w.configQueue } });
    deny(g, 'api role', 'sns:Publish', payloadsTopic, 'publishes no staged-object notifications');
    allow(g, 'api role', 'sts:AssumeRole', providerRole, 'assumes the provider role (verify)');
    allow(g, 'api role', 'iam:GetRole', providerRole, 'reads the provider role (start-up check)');
    deny(g, 'api role', 'sts:AssumeRole', customerRole('acme'), 'assumes customer roles only through the provider role', { context: externalId('acme') });
    deny(g, 'api role', 'sts:AssumeRole', out.WorkerRoleArn, "not the worker's role");
    const template = `arn:aws:s3:::logspoke-templates-${PROVIDER}/customer-log-delivery-role.yaml`;
    when(Boolean(w.provider.parameters.TemplateBucketName))(g, 'api role', 's3:GetObject', template, 'reads the published customer template (when TemplateBucketName is set)', { owner: PROVIDER });
    deny(g, 'api role', 's3:GetObject', staged(`acme/${CLUSTERS[0]}/a/p/${stagedFile}`), 'reads no staged logs');
    deny(g, 'api role', 's3:PutObject', staged(`acme/${CLUSTERS[0]}/a/p/${stagedFile}`), 'stages no logs');
    deny(g, 'api role', 'sqs:SendMessage', deliveryQueue, 'sends nothing to the delivery queue');
  }

  // -------------------------------------------------------------- worker role ---------
  {
    const g = `worker role (${w.lambda ? 'Lambda function' : 'replicas'})`;
    const who = 'worker role';
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes']) {
      allow(g, who, action, deliveryQueue, 'consumes the delivery queue');
      allow(g, who, action, overflowQueue, 'consumes the overflow lane');
    }
    allow(g, who, 'sqs:SendMessage', overflowQueue, 'moves messages to the overflow lane');
    deny(g, who, 'sqs:SendMessage', deliveryQueue, 'only SNS sends to the delivery queue');
    for (const q of [deliveryQueue, overflowQueue]) {
      for (const action of ['sqs:PurgeQueue', 'sqs:SetQueueAttributes', 'sqs:DeleteQueue']) deny(g, who, action, q, 'does not manage the delivery queues');
    }
    deny(g, who, 'sqs:ReceiveMessage', deadLetterQueue, 'leaves the dead-letter queue to operators');
    allow(g, who, 's3:GetObject', staged(`acme/${CLUSTERS[0]}/a/p/${stagedFile}`), 'reads staged objects');
    allow(g, who, 's3:ListBucket', `arn:aws:s3:::${bucket}`, 'lists the staging bucket (replays)');
    deny(g, who, 's3:GetObject', staged(`acme/${CLUSTERS[0]}/a/p/${stagedFile}`), 'not over plain HTTP', { context: { 'aws:SecureTransport': 'false' } });
    for (const action of ['s3:PutObject', 's3:DeleteObject']) deny(g, who, action, staged(`acme/${CLUSTERS[0]}/a/p/${stagedFile}`), 'never writes the staging bucket');
    const kmsKey = w.provider.parameters.StagingBucketKmsKeyArn || 'arn:aws:kms:eu-west-1:111111111111:key/none';
    when(w.kms)(g, who, 'kms:Decrypt', kmsKey, 'decrypts staged objects through S3 (SSE-KMS only)', { context: { 'kms:ViaService': `s3.${REGION}.amazonaws.com` } });
    if (w.kms) {
      deny(g, who, 'kms:Decrypt', kmsKey, 'decrypts nothing outside S3 (kms:ViaService)');
      deny(g, who, 'kms:Decrypt', kmsKey, 'decrypts nothing through another service', { context: { 'kms:ViaService': `sqs.${REGION}.amazonaws.com` } });
      deny(g, who, 'kms:GenerateDataKey', kmsKey, 'encrypts nothing', { context: { 'kms:ViaService': `s3.${REGION}.amazonaws.com` } });
    }
    for (const action of ['dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:Query']) allow(g, who, action, readModel, 'reads the read model');
    for (const action of ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem']) deny(g, who, action, readModel, 'never writes the read model');
    const partition = { context: { 'dynamodb:LeadingKeys': ['acme#cloudwatch'] } };
    for (const action of ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query']) {
      allow(g, who, action, ledger, 'keeps the delivery ledger', partition);
    }
    deny(g, who, 'dynamodb:Scan', ledger, 'never scans the ledger');
    allow(g, who, 'dynamodb:Query', `${ledger}/index/open-replay-jobs`, 'finds open replay jobs');
    allow(g, who, 'sts:AssumeRole', providerRole, 'assumes the provider role');
    deny(g, who, 'sts:AssumeRole', customerRole('acme'), 'assumes customer roles only through the provider role', { context: externalId('acme') });
    const subscribe = (protocol, endpoint) => ({ context: { 'sns:Protocol': protocol, 'sns:Endpoint': endpoint } });
    const replicas = when(!w.lambda);
    replicas(g, who, 'sns:Subscribe', configTopic, 'subscribes its own queue to config changes (replicas only)', subscribe('sqs', w.configQueue));
    replicas(g, who, 'sns:Unsubscribe', configTopic, 'removes its subscription (replicas only)');
    for (const [protocol, endpoint, why] of [
      ['https', 'https://collector.example.net/hook', 'no HTTPS endpoint'],
      ['email', 'someone@example.net', 'no e-mail endpoint'],
      ['lambda', `arn:aws:lambda:${REGION}:${PROVIDER}:function:anything`, 'no function'],
      ['sqs', deliveryQueue, 'not the delivery queue'],
      ['sqs', `arn:aws:sqs:${REGION}:${OUTSIDER}:${out.ConfigQueueNamePrefix}5f0c3e9a1b7d4c62`, "no queue of another account, even one named like its own"],
      ['sqs', `arn:aws:sqs:us-east-1:${PROVIDER}:${out.ConfigQueueNamePrefix}5f0c3e9a1b7d4c62`, "no queue of another region"],
      ['sqs', `arn:aws:sqs:${REGION}:${PROVIDER}:other-5f0c3e9a1b7d4c62`, 'no queue outside its name prefix'],
    ]) {
      deny(g, who, 'sns:Subscribe', configTopic, `subscribes only its own queues over sqs: ${why}`, subscribe(protocol, endpoint));
    }
    deny(g, who, 'sns:Subscribe', payloadsTopic, 'does not subscribe to staged-object notifications', subscribe('sqs', w.configQueue));
    deny(g, who, 'sns:Publish', configTopic, 'publishes no config changes');
    for (const action of ['sqs:CreateQueue', 'sqs:SetQueueAttributes', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:DeleteQueue']) {
      replicas(g, who, action, w.configQueue, 'manages its own config-change queue (replicas only; SetQueueAttributes sets the queue policy)');
    }
    deny(g, who, 'sqs:CreateQueue', `arn:aws:sqs:${REGION}:${PROVIDER}:other-5f0c3e9a1b7d4c62`, 'creates no queue outside its name prefix');
    deny(g, who, 'sqs:SendMessage', w.configQueue, 'only SNS sends to its config-change queue');
    const functionLogs = `arn:aws:logs:${REGION}:${PROVIDER}:log-group:/aws/lambda/${w.provider.parameters.NamePrefix}-worker`;
    when(w.lambda)(g, who, 'logs:PutLogEvents', `${functionLogs}:log-stream:2026/11/22/[$LATEST]0b6e2f4c`, "writes the function's own logs (Lambda only)");
    deny(g, who, 'logs:PutLogEvents', `arn:aws:logs:${REGION}:${PROVIDER}:log-group:/aws/lambda/other:log-stream:s`, "writes no other function's logs");
  }

  // ------------------------------------------------- topics and queues (resource policies)
  {
    const g = 'log-payloads topic';
    const fromBucket = (arn, account) => ({ context: { 'aws:SourceArn': arn, 'aws:SourceAccount': account } });
    allow(g, 's3.amazonaws.com', 'sns:Publish', payloadsTopic, 'S3 publishes for the staging bucket', fromBucket(`arn:aws:s3:::${bucket}`, PROVIDER));
    deny(g, 's3.amazonaws.com', 'sns:Publish', payloadsTopic, 'S3 publishes for no other bucket', fromBucket('arn:aws:s3:::someone-elses-bucket', PROVIDER));
    deny(g, 's3.amazonaws.com', 'sns:Publish', payloadsTopic, 'S3 publishes for no bucket of that name in another account', fromBucket(`arn:aws:s3:::${bucket}`, OUTSIDER));
    for (const who of ['api role', 'worker role', collector(CLUSTERS[0]), 'provider role', 'an admin role of another account']) {
      deny(g, who, 'sns:Publish', payloadsTopic, 'only S3 publishes');
    }
    deny(g, 'an admin role of another account', 'sns:Subscribe', payloadsTopic, 'no subscriptions from other accounts', { context: { 'sns:Protocol': 'https', 'sns:Endpoint': 'https://x.example.net/' } });
  }
  {
    const g = 'config-changes topic';
    allow(g, 'api role', 'sns:Publish', configTopic, 'the api publishes');
    for (const who of ['worker role', collector(CLUSTERS[0]), collector(CLUSTERS[1]), 'provider role', 'an admin role of another account']) {
      deny(g, who, 'sns:Publish', configTopic, 'only the api publishes');
    }
    deny(g, 's3.amazonaws.com', 'sns:Publish', configTopic, 'no service publishes', { context: { 'aws:SourceArn': `arn:aws:s3:::${bucket}`, 'aws:SourceAccount': PROVIDER } });
    for (const who of [collector(CLUSTERS[0]), 'provider role', 'an admin role of another account']) {
      deny(g, who, 'sns:Subscribe', configTopic, 'only worker roles subscribe', { context: { 'sns:Protocol': 'sqs', 'sns:Endpoint': w.configQueue } });
    }
    // WorkersSubscribeTheirOwnQueues grants the account (aws:PrincipalArn NamePrefix-worker-*),
    // which lets in only roles whose own policy allows Subscribe too.
    const ownQueue = { context: { 'sns:Protocol': 'sqs', 'sns:Endpoint': w.configQueue } };
    when(!w.lambda)(g, 'worker role', 'sns:Subscribe', configTopic, w.lambda
      ? "not the Lambda function's role: the topic's grant is to the account, and the role's own policy has no Subscribe"
      : 'the worker role subscribes its own queue (its own policy allows it)', ownQueue);
    deny(g, 'a role of the provider account named like a worker role, without policies', 'sns:Subscribe', configTopic,
      'a name matching NamePrefix-worker-* is not enough: the grant is to the account, the role needs its own Allow', ownQueue);
    // The Denies: a role of this account whose own policy allows everything is held to
    // worker roles, sqs and NamePrefix-config-* queues all the same.
    for (const who of ['an admin role of the provider account', 'api role, if it were allowed everything',
      `collector role of ${CLUSTERS[0]}, if it were allowed everything`, 'provider role, if it were allowed everything']) {
      deny(g, who, 'sns:Subscribe', configTopic, 'no role but a worker role subscribes, whatever its own policy allows (NoOtherSubscribers)', ownQueue);
    }
    const broadWorker = 'worker role, if it were allowed everything';
    allow(g, broadWorker, 'sns:Subscribe', configTopic, 'a worker role allowed everything still subscribes its own queue', ownQueue);
    deny(g, broadWorker, 'sns:Subscribe', configTopic, 'only over sqs, whatever its own policy allows (OnlyOverSqs)',
      { context: { 'sns:Protocol': 'https', 'sns:Endpoint': 'https://collector.example.net/hook' } });
    deny(g, broadWorker, 'sns:Subscribe', configTopic, 'only queues named NamePrefix-config-*, whatever its own policy allows (OnlyConfigQueues)',
      { context: { 'sns:Protocol': 'sqs', 'sns:Endpoint': deliveryQueue } });
    deny(g, broadWorker, 'sns:Subscribe', configTopic, 'no queue of another account, whatever its own policy allows (OnlyConfigQueues)',
      { context: { 'sns:Protocol': 'sqs', 'sns:Endpoint': `arn:aws:sqs:${REGION}:${OUTSIDER}:${out.ConfigQueueNamePrefix}5f0c3e9a1b7d4c62` } });
    for (const who of ['api role', 'worker role', collector(CLUSTERS[0]), 'provider role', 'an admin role of another account']) {
      for (const action of ['sns:SetTopicAttributes', 'sns:DeleteTopic', 'sns:AddPermission', 'sns:RemovePermission', 'sns:GetTopicAttributes', 'sns:ListSubscriptionsByTopic']) {
        deny(g, who, action, configTopic, 'nobody else manages or inspects the topic through its policy');
      }
    }
  }
  {
    const g = 'delivery queues';
    const fromTopic = (arn) => ({ context: { 'aws:SourceArn': arn, 'aws:SourceAccount': PROVIDER } });
    allow(g, 'sns.amazonaws.com', 'sqs:SendMessage', deliveryQueue, 'log-payloads delivers to the delivery queue', fromTopic(payloadsTopic));
    deny(g, 'sns.amazonaws.com', 'sqs:SendMessage', deliveryQueue, 'no other topic delivers there', fromTopic(configTopic));
    deny(g, 'sns.amazonaws.com', 'sqs:SendMessage', deliveryQueue, 'no delivery without a source topic');
    deny(g, 'sns.amazonaws.com', 'sqs:SendMessage', overflowQueue, 'SNS does not send to the overflow lane', fromTopic(payloadsTopic));
    for (const who of ['api role', collector(CLUSTERS[0]), 'provider role', 'an admin role of another account']) {
      deny(g, who, 'sqs:SendMessage', deliveryQueue, 'nobody else sends to the delivery queue');
      deny(g, who, 'sqs:SendMessage', overflowQueue, 'nobody but the worker sends to the overflow lane');
      deny(g, who, 'sqs:ReceiveMessage', deliveryQueue, 'nobody else receives from the delivery queue');
    }
    allow(g, 'sns.amazonaws.com', 'sqs:SendMessage', w.configQueue, "config-changes delivers to a worker's own queue (the policy the worker sets)", fromTopic(configTopic));
    deny(g, 'sns.amazonaws.com', 'sqs:SendMessage', w.configQueue, "no other topic delivers to a worker's own queue", fromTopic(payloadsTopic));
    deny(g, 'an admin role of another account', 'sqs:SendMessage', w.configQueue, "no other account sends to a worker's own queue");
  }

  // ----------------------------------------------- replica region (global read model) --
  // The provider stack of a second region with ReadModelMode global-replica: no
  // config-changes topic of its own; its workers subscribe queues of their own region to
  // the primary's topic (whose topic policy is the resource policy here), its api
  // publishes there; the primary's api reads and writes replay jobs in every region's
  // ledger.
  if (w.replica) {
    const r = w.replica;
    const at = ` (${r.stack.region})`;
    const here = r.stack.region;
    const prefix = w.provider.parameters.NamePrefix;
    const rworker = `worker role${at}`;
    const rapi = `api role${at}`;
    const rcollector = `collector role of ${REPLICA_CLUSTERS[0]}${at}`;
    const primaryTopic = w.provider.resources.ConfigTopic.ref;
    const primaryPayloads = payloadsTopic;
    const replicaPayloads = r.out.LogPayloadsTopicArn;
    const rres = (logicalId) => r.stack.resources[logicalId].attributes.Arn;
    const subscribe = (protocol, endpoint) => ({ context: { 'sns:Protocol': protocol, 'sns:Endpoint': endpoint } });
    const ownQueue = subscribe('sqs', r.configQueue);
    const queueName = r.configQueue.split(':').pop();

    {
      const g = `replica region ${here}: its workers and the primary's config-changes topic`;
      allow(g, rworker, 'sns:Subscribe', primaryTopic, `subscribes a ${prefix}-config-* queue of its own region to the primary's topic over sqs`, ownQueue);
      allow(g, rworker, 'sns:Unsubscribe', primaryTopic, "removes its subscription from the primary's topic");
      for (const [protocol, endpoint, why] of [
        ['sqs', `arn:aws:sqs:${here}:${OUTSIDER}:${queueName}`, 'no queue of another account, even one named like its own'],
        ['sqs', `arn:aws:sqs:${here}:${PROVIDER}:other-5f0c3e9a1b7d4c62`, 'no queue outside its name prefix'],
        ['sqs', `arn:aws:sqs:${here}:${PROVIDER}:${prefix}-delivery-5f0c3e9a1b7d4c62`, `no queue named ${prefix}-* but not ${prefix}-config-*`],
        ['sqs', rres('DeliveryQueue'), "not its region's delivery queue"],
        ['sqs', `arn:aws:sqs:${REGION}:${PROVIDER}:${queueName}`, "no queue of another region (the primary's), although the topic policy names any region"],
        ['https', 'https://collector.example.net/hook', 'no HTTPS endpoint'],
        ['lambda', `arn:aws:lambda:${here}:${PROVIDER}:function:anything`, 'no function'],
      ]) {
        deny(g, rworker, 'sns:Subscribe', primaryTopic, `subscribes only its own queues over sqs: ${why}`, subscribe(protocol, endpoint));
      }
      deny(g, rworker, 'sns:Subscribe', primaryPayloads, "does not subscribe its queue to the primary's log-payloads topic", ownQueue);
      deny(g, rworker, 'sns:Subscribe', replicaPayloads, "does not subscribe its queue to its own region's log-payloads topic", ownQueue);
      deny(g, rworker, 'sns:Subscribe', `arn:aws:sns:${here}:${PROVIDER}:config-changes`, "no config-changes topic of its own region (its stack creates none; one of that name would be someone else's)", ownQueue);
      deny(g, rworker, 'sns:Publish', primaryTopic, "publishes no config changes to the primary's topic");
      for (const who of [rapi, rcollector, 'provider role', 'an admin role of another account']) {
        deny(g, who, 'sns:Subscribe', primaryTopic, "only worker roles subscribe to the primary's topic", ownQueue);
      }
      for (const who of [rcollector, 'an admin role of another account']) {
        deny(g, who, 'sns:Publish', primaryTopic, "only the api publishes to the primary's topic");
      }
      allow(g, rapi, 'sns:Publish', primaryTopic, "the replica region's api publishes its config changes to the primary's topic");
      deny(g, rapi, 'sns:Publish', primaryPayloads, "the replica region's api publishes no staged-object notifications");
      deny(g, rapi, 'sns:Publish', `arn:aws:sns:${here}:${PROVIDER}:config-changes`, 'no config-changes topic of its own region');
      for (const action of ['sqs:CreateQueue', 'sqs:SetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:DeleteQueue']) {
        allow(g, rworker, action, r.configQueue, 'manages its own config-change queue in its own region');
      }
      deny(g, rworker, 'sqs:CreateQueue', `arn:aws:sqs:${REGION}:${PROVIDER}:${queueName}`, "creates no config-change queue in the primary's region");
      const fromTopic = (arn) => ({ context: { 'aws:SourceArn': arn, 'aws:SourceAccount': PROVIDER } });
      allow(g, 'sns.amazonaws.com', 'sqs:SendMessage', r.configQueue, "the primary's config-changes topic delivers to the replica worker's queue (its stack's ConfigTopicArn)", fromTopic(primaryTopic));
      deny(g, 'sns.amazonaws.com', 'sqs:SendMessage', r.configQueue, "no other topic delivers to the replica worker's queue", fromTopic(replicaPayloads));
      allow(g, 'sns.amazonaws.com', 'sqs:SendMessage', rres('DeliveryQueue'), "the replica region's log-payloads delivers to its own delivery queue", fromTopic(replicaPayloads));
      deny(g, 'sns.amazonaws.com', 'sqs:SendMessage', rres('DeliveryQueue'), "the primary's log-payloads does not deliver to the replica region's queue", fromTopic(primaryPayloads));
    }

    {
      const g = `replica region ${here}: every region's delivery ledger`;
      const keys = (...k) => ({ context: { 'dynamodb:LeadingKeys': k } });
      const replicaLedger = rres('DeliveryLedgerTable');
      for (const action of ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query']) {
        allow(g, 'api role', action, replicaLedger, "the primary's api reads the replica region's ledger (delivery health, replay progress)", keys('health'));
        allow(g, rapi, action, ledger, "the replica region's api reads the primary's ledger", keys('health'));
      }
      allow(g, 'api role', 'dynamodb:PutItem', replicaLedger, "the primary's api creates replay jobs in the replica region's ledger (partition replay)", keys('replay'));
      allow(g, 'api role', 'dynamodb:UpdateItem', replicaLedger, "the primary's api cancels replay jobs in the replica region's ledger (partition replay)", keys('replay'));
      for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem']) {
        deny(g, 'api role', action, replicaLedger, "writes no health item in the replica region's ledger", keys('health'));
      }
      deny(g, 'api role', 'dynamodb:PutItem', replicaLedger, "writes no delivery record in the replica region's ledger", keys('acme#cloudwatch'));
      deny(g, 'api role', 'dynamodb:PutItem', replicaLedger, 'writes no item of another partition next to a replay job', keys('replay', 'acme#s3'));
      deny(g, 'api role', 'dynamodb:PutItem', replicaLedger, 'writes nothing when the request names no partition key (Null guard)', { context: { 'dynamodb:LeadingKeys': null } });
      deny(g, 'api role', 'dynamodb:DeleteItem', replicaLedger, "deletes nothing from the replica region's ledger", keys('replay'));
      deny(g, 'api role', 'dynamodb:Scan', replicaLedger, "never scans the replica region's ledger");
      deny(g, 'api role', 'dynamodb:Query', `${replicaLedger}/index/open-replay-jobs`, "the replica region's workers' index of open replay jobs is theirs");
      const elsewhere = (account, name) => `arn:aws:dynamodb:${here}:${account}:table/${name}`;
      for (const [arn, why] of [
        [elsewhere(PROVIDER, `${prefix}-delivery-ledger-archive`), 'no table whose name only starts like the ledger'],
        [elsewhere(PROVIDER, 'delivery-ledger'), 'no table of another name'],
        [elsewhere(PROVIDER, 'tenant-configs'), 'not the read model replica there'],
      ]) {
        deny(g, 'api role', 'dynamodb:GetItem', arn, why, keys('health'));
        deny(g, 'api role', 'dynamodb:PutItem', arn, why, keys('replay'));
      }
      // Another account's table of the ledger's name whose resource policy lets the
      // provider account in: only the api's own policy can refuse it.
      const foreign = elsewhere(OUTSIDER, `${prefix}-delivery-ledger`);
      const letsProviderIn = {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${PROVIDER}:root` }, Action: 'dynamodb:*', Resource: foreign }],
      };
      deny(g, 'api role', 'dynamodb:GetItem', foreign, "no ledger of another account, even one whose policy lets the provider's account in", { ...keys('health'), resourcePolicy: letsProviderIn });
      deny(g, 'api role', 'dynamodb:PutItem', foreign, "no ledger of another account, even one whose policy lets the provider's account in", { ...keys('replay'), resourcePolicy: letsProviderIn });
      const partition = keys('acme#cloudwatch');
      allow(g, rworker, 'dynamodb:PutItem', replicaLedger, "the replica region's worker keeps its own region's ledger", partition);
      deny(g, rworker, 'dynamodb:PutItem', ledger, "the replica region's worker does not write the primary's ledger", partition);
      deny(g, 'worker role', 'dynamodb:GetItem', replicaLedger, "the primary's worker does not read the replica region's ledger", partition);
      allow(g, rworker, 'dynamodb:Query', `${replicaLedger}/index/open-replay-jobs`, "the replica region's worker finds its region's open replay jobs");
      allow(g, rworker, 'dynamodb:GetItem', elsewhere(PROVIDER, out.ReadModelTableName), "the replica region's worker reads its region's replica of the read model");
      deny(g, rworker, 'dynamodb:PutItem', elsewhere(PROVIDER, out.ReadModelTableName), 'and never writes it');
    }

    {
      const g = `replica region ${here}: its roles and the provider role`;
      allow(g, rworker, 'sts:AssumeRole', providerRole, "the replica region's worker assumes the primary stack's provider role (CreateProviderRole false)");
      allow(g, rapi, 'sts:AssumeRole', providerRole, "the replica region's api assumes the provider role");
      deny(g, rcollector, 'sts:AssumeRole', providerRole, "no collector role of the replica region");
      deny(g, 'provider role', 'sts:AssumeRole', r.out.WorkerRoleArn, "the provider role never assumes the replica region's workload roles", { context: externalId('acme') });
      deny(g, rworker, 'sts:AssumeRole', customerRole('acme'), 'assumes customer roles only through the provider role', { context: externalId('acme') });
    }
  }

  // ------------------------------------------------------- trust of the provider's roles
  {
    const g = 'provider role is assumed by';
    allow(g, 'api role', 'sts:AssumeRole', providerRole, 'the api role');
    allow(g, 'worker role', 'sts:AssumeRole', providerRole, 'the worker role');
    deny(g, collector(CLUSTERS[0]), 'sts:AssumeRole', providerRole, 'no collector role');
    when(!w.oidc)(g, `${collector(CLUSTERS[0])}, if it were allowed everything`, 'sts:AssumeRole', providerRole,
      w.oidc ? 'no collector role, whatever it may do (aws:PrincipalArn)' : 'any role of the account that may (no OIDC provider: the account is trusted)');
    when(!w.oidc)(g, 'an admin role of the provider account', 'sts:AssumeRole', providerRole,
      w.oidc ? 'no other role of the account, whatever it may do (aws:PrincipalArn)' : 'the account (no OIDC provider)');
    deny(g, 'an admin role of another account', 'sts:AssumeRole', providerRole, 'no other account');
    deny(g, "acme's delivery role", 'sts:AssumeRole', providerRole, 'no customer role');
  }
  {
    const g = "the provider's workload roles are assumed by";
    const viaAccount = !w.oidc;
    when(viaAccount)(g, 'an admin role of the provider account', 'sts:AssumeRole', out.ApiRoleArn,
      viaAccount ? 'the account, for the api role (no OIDC provider)' : 'not the account: only the api service account (IRSA)');
    when(viaAccount && !w.lambda)(g, 'an admin role of the provider account', 'sts:AssumeRole', out.WorkerRoleArn,
      w.lambda ? 'not the account: only Lambda, for the function' : viaAccount ? 'the account, for the worker role (no OIDC provider)' : 'not the account: only the worker service account (IRSA)');
    for (const arn of [out.ApiRoleArn, out.WorkerRoleArn, w.collectors[CLUSTERS[0]].outputs.CollectorRoleArn]) {
      deny(g, 'an admin role of another account', 'sts:AssumeRole', arn, 'no other account');
    }
    const lambda = (account) => ({ context: { 'aws:SourceAccount': account, 'aws:SourceArn': `arn:aws:lambda:${REGION}:${account}:function:${w.provider.parameters.NamePrefix}-worker` } });
    when(w.lambda)(g, 'lambda.amazonaws.com', 'sts:AssumeRole', out.WorkerRoleArn, 'Lambda for the worker function of this account (Lambda only)', lambda(PROVIDER));
    deny(g, 'lambda.amazonaws.com', 'sts:AssumeRole', out.WorkerRoleArn, "not Lambda for another account's function", lambda(OUTSIDER));
    deny(g, 'lambda.amazonaws.com', 'sts:AssumeRole', out.ApiRoleArn, 'not Lambda, for the api role', lambda(PROVIDER));
  }

  return cases;
}
