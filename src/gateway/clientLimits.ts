/**
 * The gateway's per-client limits are the product's one mechanism for them (the bot's
 * users and servers use it too): `src/limits/clientLimits.ts`.
 */
export { ClientLimits, decideAdmission, type Admission, type ClientCounts, type ClientLimitsOptions } from '../limits/clientLimits.ts';
