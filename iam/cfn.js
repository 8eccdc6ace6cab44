// Reads a CloudFormation template (YAML with the short-form tags !Ref, !Sub, !GetAtt ...)
// and resolves it for one set of parameter values, the way CloudFormation would: the
// parameters are checked against their declared constraints and the template's Rules,
// the Conditions decide which resources and values exist, and every intrinsic function
// is replaced by its value. Physical ids that CloudFormation would generate are made
// up deterministically from the stack name and the logical id.
//
// It knows the intrinsic functions and resource types the Logspoke templates use and
// throws on anything else, so that a template change it cannot follow fails the suite
// instead of being evaluated wrongly.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const SHORT_FORMS = {
  Ref: 'Ref',
  Condition: 'Condition',
  Sub: 'Fn::Sub',
  GetAtt: 'Fn::GetAtt',
  Join: 'Fn::Join',
  Select: 'Fn::Select',
  Split: 'Fn::Split',
  If: 'Fn::If',
  Equals: 'Fn::Equals',
  Not: 'Fn::Not',
  And: 'Fn::And',
  Or: 'Fn::Or',
  FindInMap: 'Fn::FindInMap',
  Base64: 'Fn::Base64',
  GetAZs: 'Fn::GetAZs',
  ImportValue: 'Fn::ImportValue',
  Cidr: 'Fn::Cidr',
  Contains: 'Fn::Contains',
};

// One YAML tag per short form and node kind: `!GetAtt A.B` is the scalar form of
// `Fn::GetAtt: [A, B]`; the others keep their argument as it is.
const TAGS = Object.entries(SHORT_FORMS).flatMap(([short, long]) => [
  { tag: `!${short}`, resolve: (text) => ({ [long]: short === 'GetAtt' ? splitAttribute(text) : text }) },
  { tag: `!${short}`, collection: 'seq', resolve: (seq) => ({ [long]: seq.toJSON() }) },
  { tag: `!${short}`, collection: 'map', resolve: (map) => ({ [long]: map.toJSON() }) },
]);

function splitAttribute(text) {
  const dot = text.indexOf('.');
  if (dot < 1) throw new Error(`!GetAtt ${text}: expected Resource.Attribute`);
  return [text.slice(0, dot), text.slice(dot + 1)];
}

/** Parses a template file into plain JSON-shaped data with long-form intrinsics. */
export function loadTemplate(path) {
  return parse(readFileSync(path, 'utf8'), { customTags: TAGS, uniqueKeys: true });
}

/** Removes the value it stands in for (AWS::NoValue). */
const NO_VALUE = Symbol('AWS::NoValue');

const PARTITION_SUFFIX = { aws: 'amazonaws.com', 'aws-cn': 'amazonaws.com.cn', 'aws-us-gov': 'amazonaws.com' };

// How each resource type answers Ref and Fn::GetAtt, given its physical name.
const RESOURCE_TYPES = {
  'AWS::S3::Bucket': {
    nameProperty: 'BucketName',
    ref: (r) => r.name,
    attributes: { Arn: (r) => `arn:${r.partition}:s3:::${r.name}` },
  },
  'AWS::S3::BucketPolicy': {},
  'AWS::Logs::LogGroup': {
    nameProperty: 'LogGroupName',
    maxNameLength: 512,
    ref: (r) => r.name,
    // CloudFormation's Arn of a log group ends in ":*" (DescribeLogGroups' `arn`).
    attributes: { Arn: (r) => `arn:${r.partition}:logs:${r.region}:${r.account}:log-group:${r.name}:*` },
  },
  'AWS::SNS::Topic': {
    nameProperty: 'TopicName',
    ref: (r) => r.topicArn(),
    attributes: { TopicArn: (r) => r.topicArn(), TopicName: (r) => r.name },
  },
  'AWS::SNS::TopicPolicy': {},
  'AWS::SNS::Subscription': {},
  'AWS::SQS::Queue': {
    nameProperty: 'QueueName',
    ref: (r) => `https://sqs.${r.region}.${r.urlSuffix}/${r.account}/${r.name}`,
    attributes: {
      Arn: (r) => `arn:${r.partition}:sqs:${r.region}:${r.account}:${r.name}`,
      QueueName: (r) => r.name,
      QueueUrl: (r) => `https://sqs.${r.region}.${r.urlSuffix}/${r.account}/${r.name}`,
    },
  },
  'AWS::SQS::QueuePolicy': {},
  'AWS::DynamoDB::Table': {
    nameProperty: 'TableName',
    ref: (r) => r.name,
    attributes: { Arn: (r) => `arn:${r.partition}:dynamodb:${r.region}:${r.account}:table/${r.name}` },
  },
  'AWS::DynamoDB::GlobalTable': {
    nameProperty: 'TableName',
    ref: (r) => r.name,
    attributes: { Arn: (r) => `arn:${r.partition}:dynamodb:${r.region}:${r.account}:table/${r.name}` },
  },
  'AWS::IAM::Role': {
    nameProperty: 'RoleName',
    maxNameLength: 64,
    ref: (r) => r.name,
    attributes: {
      Arn: (r) => `arn:${r.partition}:iam::${r.account}:role${r.path()}${r.name}`,
      RoleId: (r) => `AROA${r.suffix}`,
    },
  },
  'AWS::Lambda::Function': {
    nameProperty: 'FunctionName',
    ref: (r) => r.name,
    attributes: { Arn: (r) => `arn:${r.partition}:lambda:${r.region}:${r.account}:function:${r.name}` },
  },
  'AWS::Lambda::EventSourceMapping': {},
  'AWS::Lambda::Permission': {},
  'AWS::Events::Rule': {
    nameProperty: 'Name',
    ref: (r) => r.name,
    attributes: { Arn: (r) => `arn:${r.partition}:events:${r.region}:${r.account}:rule/${r.name}` },
  },
};

/**
 * Resolves `template` as the stack `stackName` in `account`/`region` with `parameters`
 * (name → string; the others take their defaults). Returns
 * { name, account, region, partition, parameters, conditions, resources, outputs }, where
 * `resources` maps each logical id that exists under the conditions to
 * { type, properties, ref, attributes } with every intrinsic resolved.
 */
export function resolveStack(template, { stackName, account, region, partition = 'aws', parameters = {} }) {
  const urlSuffix = PARTITION_SUFFIX[partition];
  if (!urlSuffix) throw new Error(`unknown partition ${partition}`);
  const stack = { name: stackName, account, region, partition };
  const params = checkParameters(template.Parameters ?? {}, parameters);
  const pseudo = {
    'AWS::AccountId': account,
    'AWS::Region': region,
    'AWS::Partition': partition,
    'AWS::URLSuffix': urlSuffix,
    'AWS::StackName': stackName,
    'AWS::StackId': `arn:${partition}:cloudformation:${region}:${account}:stack/${stackName}/${uuidFrom(stackName)}`,
    'AWS::NotificationARNs': [],
  };

  const conditionDefs = template.Conditions ?? {};
  const conditions = {};
  const evaluating = new Set();
  function condition(name) {
    if (name in conditions) return conditions[name];
    if (!(name in conditionDefs)) throw new Error(`unknown condition ${name}`);
    if (evaluating.has(name)) throw new Error(`condition ${name} refers to itself`);
    evaluating.add(name);
    const value = resolve(conditionDefs[name], `Conditions.${name}`);
    if (typeof value !== 'boolean') throw new Error(`condition ${name} is not a boolean`);
    conditions[name] = value;
    return value;
  }

  const declared = template.Resources ?? {};
  const existing = Object.fromEntries(
    Object.entries(declared).filter(([, r]) => r.Condition === undefined || condition(r.Condition)),
  );
  const handles = {};
  function handle(logicalId, where) {
    if (handles[logicalId]) return handles[logicalId];
    const raw = existing[logicalId];
    if (!raw) {
      const why = declared[logicalId] ? 'does not exist under these conditions' : 'is not declared';
      throw new Error(`${where}: resource ${logicalId} ${why}`);
    }
    const kind = RESOURCE_TYPES[raw.Type];
    if (!kind) throw new Error(`${where}: resource type ${raw.Type} (${logicalId}) is not modelled`);
    const suffix = createHash('sha256').update(`${stackName}/${logicalId}`).digest('hex').slice(0, 12).toUpperCase();
    const h = { ...stack, urlSuffix, suffix, logicalId, kind };
    let name;
    Object.defineProperty(h, 'name', {
      get() {
        if (name !== undefined) return name;
        const given = kind.nameProperty ? property(logicalId, kind.nameProperty) : undefined;
        if (given !== undefined) {
          name = String(given);
        } else {
          const generated = `${stackName}-${logicalId}-${suffix}`;
          name = raw.Type === 'AWS::S3::Bucket' ? generated.toLowerCase() : generated;
          name = name.slice(0, kind.maxNameLength ?? 80);
        }
        return name;
      },
    });
    h.path = () => property(logicalId, 'Path') ?? '/';
    h.topicArn = () => `arn:${partition}:sns:${region}:${account}:${h.name}`;
    handles[logicalId] = h;
    return h;
  }
  function property(logicalId, key) {
    const value = resolve(existing[logicalId].Properties?.[key], `${logicalId}.${key}`);
    return value === NO_VALUE ? undefined : value;
  }
  function refOf(name, where) {
    if (name in pseudo) return pseudo[name];
    if (name === 'AWS::NoValue') return NO_VALUE;
    if (name in params) return params[name];
    const h = handle(name, where);
    return h.kind.ref ? h.kind.ref(h) : `${stackName}-${name}-${h.suffix}`;
  }
  function attributeOf(logicalId, attribute, where) {
    const h = handle(logicalId, where);
    const get = h.kind.attributes?.[attribute];
    if (!get) throw new Error(`${where}: attribute ${attribute} of ${existing[logicalId].Type} is not modelled`);
    return get(h);
  }

  function resolve(value, where) {
    if (Array.isArray(value)) {
      return value.map((v, i) => resolve(v, `${where}[${i}]`)).filter((v) => v !== NO_VALUE);
    }
    if (value === null || typeof value !== 'object') return value;
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0] === 'Condition' || keys[0].startsWith('Fn::'))) {
      return intrinsic(keys[0], value[keys[0]], where);
    }
    const out = {};
    for (const key of keys) {
      const v = resolve(value[key], `${where}.${key}`);
      if (v !== NO_VALUE) out[key] = v;
    }
    return out;
  }

  function intrinsic(fn, arg, where) {
    const at = `${where} (${fn})`;
    switch (fn) {
      case 'Ref':
        return refOf(arg, at);
      case 'Condition':
        return condition(arg);
      case 'Fn::If': {
        const [name, whenTrue, whenFalse] = expectList(arg, 3, at);
        return condition(name) ? resolve(whenTrue, where) : resolve(whenFalse, where);
      }
      case 'Fn::Equals': {
        const [a, b] = expectList(arg, 2, at).map((v) => resolve(v, at));
        return String(a) === String(b);
      }
      case 'Fn::Not':
        return !truth(expectList(arg, 1, at)[0], at);
      case 'Fn::And':
        return expectList(arg, null, at).every((v) => truth(v, at));
      case 'Fn::Or':
        return expectList(arg, null, at).some((v) => truth(v, at));
      case 'Fn::Sub':
        return substitute(arg, at);
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = typeof arg === 'string' ? splitAttribute(arg) : expectList(arg, 2, at);
        return attributeOf(logicalId, resolve(attribute, at), at);
      }
      case 'Fn::Join': {
        const [delimiter, list] = expectList(arg, 2, at);
        const items = resolve(list, at);
        if (!Array.isArray(items)) throw new Error(`${at}: the second argument is not a list`);
        return items.map((v) => scalar(v, at)).join(delimiter);
      }
      case 'Fn::Select': {
        const [index, list] = expectList(arg, 2, at);
        const items = resolve(list, at);
        const i = Number(resolve(index, at));
        if (!Array.isArray(items) || !Number.isInteger(i) || i < 0 || i >= items.length) {
          throw new Error(`${at}: index ${i} outside the list`);
        }
        return items[i];
      }
      case 'Fn::Split': {
        const [delimiter, text] = expectList(arg, 2, at);
        return scalar(resolve(text, at), at).split(delimiter);
      }
      case 'Fn::FindInMap': {
        const [map, top, second] = expectList(arg, 3, at).map((v) => resolve(v, at));
        const value = template.Mappings?.[map]?.[top]?.[second];
        if (value === undefined) throw new Error(`${at}: no ${map}.${top}.${second}`);
        return resolve(value, at);
      }
      case 'Fn::Base64':
        return Buffer.from(scalar(resolve(arg, at), at)).toString('base64');
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((z) => `${resolve(arg, at) || region}${z}`);
      default:
        throw new Error(`${at}: ${fn} is not supported here`);
    }
  }

  function truth(value, where) {
    const v = resolve(value, where);
    if (typeof v !== 'boolean') throw new Error(`${where}: expected a condition, got ${JSON.stringify(v)}`);
    return v;
  }

  function substitute(arg, where) {
    const [text, vars] = typeof arg === 'string' ? [arg, {}] : expectList(arg, 2, where);
    const own = resolve(vars, where);
    return text.replace(/\$\{([^}]*)\}/g, (whole, name) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      if (name in own) return scalar(own[name], where);
      if (name in pseudo || name in params || name in existing || name === 'AWS::NoValue') {
        return scalar(refOf(name, where), where);
      }
      const dot = name.indexOf('.');
      if (dot > 0) return scalar(attributeOf(name.slice(0, dot), name.slice(dot + 1), where), where);
      throw new Error(`${where}: \${${name}} names nothing`);
    });
  }

  function scalar(value, where) {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new Error(`${where}: expected a string, got ${value === NO_VALUE ? 'AWS::NoValue' : JSON.stringify(value)}`);
  }

  checkRules(template.Rules ?? {}, resolve);
  for (const name of Object.keys(conditionDefs)) condition(name);

  const resources = {};
  for (const [logicalId, raw] of Object.entries(existing)) {
    const h = handle(logicalId, `Resources.${logicalId}`);
    const properties = resolve(raw.Properties ?? {}, `Resources.${logicalId}.Properties`);
    const attributes = Object.fromEntries(
      Object.keys(h.kind.attributes ?? {}).map((a) => [a, attributeOf(logicalId, a, logicalId)]),
    );
    const dependsOn = [raw.DependsOn ?? []].flat();
    for (const dependency of dependsOn) handle(dependency, `Resources.${logicalId}.DependsOn`);
    resources[logicalId] = { type: raw.Type, properties, ref: refOf(logicalId, logicalId), attributes };
  }
  const outputs = {};
  for (const [name, output] of Object.entries(template.Outputs ?? {})) {
    if (output.Condition !== undefined && !condition(output.Condition)) continue;
    outputs[name] = resolve(output.Value, `Outputs.${name}`);
  }
  const resolved = { ...stack, parameters: params, conditions, resources, outputs };
  assertResolved(resolved, stackName);
  return resolved;
}

function expectList(arg, length, where) {
  if (!Array.isArray(arg) || (length !== null && arg.length !== length)) {
    throw new Error(`${where}: expected a list${length === null ? '' : ` of ${length}`}`);
  }
  return arg;
}

/** Applies defaults and the declared constraints; throws on an unknown or invalid value. */
function checkParameters(declared, given) {
  for (const name of Object.keys(given)) {
    if (!(name in declared)) throw new Error(`parameter ${name} is not declared by the template`);
  }
  const values = {};
  for (const [name, p] of Object.entries(declared)) {
    const raw = name in given ? given[name] : p.Default;
    if (raw === undefined) throw new Error(`parameter ${name} has no default and was not given`);
    const value = String(raw);
    const bad = (why) => new Error(`parameter ${name}=${JSON.stringify(value)}: ${why}`);
    if (p.AllowedValues && !p.AllowedValues.map(String).includes(value)) throw bad(`not one of ${p.AllowedValues}`);
    if (p.AllowedPattern && !new RegExp(`^(?:${p.AllowedPattern})$`).test(value)) throw bad(`does not match ${p.AllowedPattern}`);
    if (p.MinLength !== undefined && value.length < p.MinLength) throw bad(`shorter than ${p.MinLength}`);
    if (p.MaxLength !== undefined && value.length > p.MaxLength) throw bad(`longer than ${p.MaxLength}`);
    if (p.Type === 'Number') {
      const n = Number(value);
      if (value === '' || Number.isNaN(n)) throw bad('not a number');
      if (p.MinValue !== undefined && n < p.MinValue) throw bad(`below ${p.MinValue}`);
      if (p.MaxValue !== undefined && n > p.MaxValue) throw bad(`above ${p.MaxValue}`);
    }
    values[name] = value;
  }
  return values;
}

/** Evaluates the template's Rules (the functions the Logspoke templates use there). */
function checkRules(rules, resolve) {
  for (const [name, rule] of Object.entries(rules)) {
    if (rule.RuleCondition !== undefined && resolve(rule.RuleCondition, `Rules.${name}`) !== true) continue;
    for (const [i, assertion] of (rule.Assertions ?? []).entries()) {
      const holds = resolve(assertion.Assert, `Rules.${name}.Assertions[${i}]`);
      if (holds !== true) throw new Error(`rule ${name}: ${assertion.AssertDescription ?? 'assertion failed'}`);
    }
  }
}

/** Throws if an intrinsic function survived resolution. */
function assertResolved(value, where) {
  if (Array.isArray(value)) return value.forEach((v, i) => assertResolved(v, `${where}[${i}]`));
  if (value === null || typeof value !== 'object') return;
  const keys = Object.keys(value);
  for (const key of keys) {
    // A statement's own Condition element sits next to other keys; an intrinsic is alone.
    const intrinsic = key.startsWith('Fn::') || (keys.length === 1 && (key === 'Ref' || key === 'Condition'));
    if (intrinsic) throw new Error(`${where}: unresolved ${key}`);
    assertResolved(value[key], `${where}.${key}`);
  }
}

function uuidFrom(text) {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A policy document as IAM reads it: parsed from a JSON string, scalars as strings. */
export function policyDocument(value, where) {
  let doc = value;
  if (typeof doc === 'string') {
    try {
      doc = JSON.parse(doc);
    } catch (err) {
      throw new Error(`${where}: not a JSON policy document (${err.message})`);
    }
  }
  if (doc === null || typeof doc !== 'object' || !doc.Statement) throw new Error(`${where}: not a policy document`);
  return stringifyScalars(doc);
}

function stringifyScalars(value) {
  if (Array.isArray(value)) return value.map(stringifyScalars);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stringifyScalars(v)]));
  }
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}
