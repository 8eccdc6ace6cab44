// One case through the evaluator: the principal's identity policies, the resource's
// policy (a trust policy for sts:AssumeRole), and the request context AWS would send
// for that principal and resource, with the case's own keys on top.

import { runSimulation } from '@cloud-copilot/iam-simulate';

/**
 * Evaluates `c` ({ who, action, resource, context?, owner?, resourcePolicy? }) in
 * `world`. Returns { allowed, result, context } or { error }.
 */
export async function evaluate(world, c) {
  const principal = world.principals[c.who];
  if (!principal) return { error: `no principal "${c.who}" in this world` };
  const owner = c.owner ?? world.owner(c.resource);
  if (!owner) return { error: `the owner of ${c.resource} is not known: give the case an owner` };
  const resourcePolicy = 'resourcePolicy' in c ? c.resourcePolicy : world.resourcePolicy(c.resource);
  const context = requestContext(principal, c.action, owner);
  for (const [key, value] of Object.entries(c.context ?? {})) {
    if (value === null) delete context[key];
    else context[key] = value;
  }
  const simulation = {
    request: {
      principal: principal.arn,
      action: c.action,
      resource: { resource: c.resource, accountId: owner },
      contextVariables: context,
    },
    identityPolicies: principal.identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy,
  };
  const outcome = await runSimulation(simulation, { simulationMode: 'Strict' });
  if (outcome.resultType === 'error') return { error: JSON.stringify(outcome.errors), context };
  if (outcome.resultType !== 'single') return { error: `a ${outcome.resultType} result: name one resource, not a pattern`, context };
  const ignored = outcome.result.ignoredContextKeys ?? [];
  const meant = Object.keys(c.context ?? {}).filter((k) => c.context[k] !== null && ignored.includes(k));
  if (meant.length) return { error: `the evaluator ignored the case's context keys ${meant.join(', ')}`, context };
  return { allowed: outcome.overallResult === 'Allowed', result: outcome.overallResult, context };
}

/**
 * The keys AWS puts in every request of `principal` on a resource of `owner`: who is
 * calling (a role session's aws:PrincipalArn is its role's ARN, path included), whose
 * resource it is (s3:ResourceAccount for S3 too), and TLS.
 */
function requestContext(principal, action, owner) {
  const context = { 'aws:SecureTransport': 'true', 'aws:ResourceAccount': owner };
  if (!principal.service) {
    context['aws:PrincipalArn'] = principal.roleArn;
    context['aws:PrincipalAccount'] = principal.account;
  }
  if (action.startsWith('s3:')) context['s3:ResourceAccount'] = owner;
  return context;
}
