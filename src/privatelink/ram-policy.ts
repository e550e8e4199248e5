/**
 * The RAM side of the API: which actions the daemon calls, and the policy that allows exactly
 * those. docs/deployment.md#ram-policy prints this policy; test/docs/ram-policy.test.ts keeps the
 * two in step, so the docs never ask for more (or less) than the code uses.
 */

/** Every API action a sync calls (GetVpcEndpointAttribute exists in the client but is not used). */
export const USED_API_ACTIONS = ['ListVpcEndpoints', 'ListVpcEndpointZones'] as const;

/** Where the policy is documented; config comments and error messages point here. */
export const RAM_POLICY_DOC = 'docs/deployment.md#ram-policy';

/** The RAM action that allows an API action: the product code is "privatelink", not "vpc". */
export function ramActionFor(apiAction: string): string {
  return `privatelink:${apiAction}`;
}

/** The minimal custom policy: read-only, only the actions used. */
export function minimalRamPolicy(): { Version: '1'; Statement: { Effect: 'Allow'; Action: string[]; Resource: string }[] } {
  return { Version: '1', Statement: [{ Effect: 'Allow', Action: USED_API_ACTIONS.map(ramActionFor), Resource: '*' }] };
}
