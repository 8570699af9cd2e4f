/**
 * Discord's REST answers and checks, as the fake Discord gives them: the JSON error body
 * `{ message, code, errors }` with its codes (10003 Unknown Channel, 10008, 10015, 10062,
 * 50035 Invalid Form Body), the form-error tree of a message or command payload (length
 * limits of content, embeds, components, names; mutually exclusive allowed_mentions), and
 * what counts as an empty message (code 50006).
 */

/** Flag of a message laid out with components v2 (no action-row limit). */
export const IS_COMPONENTS_V2 = 32768;

/** Length as Discord counts it: code points, not UTF-16 units. */
export const codePoints = (s: string): number => [...s].length;
/** A non-null object (payloads are untyped JSON). */
export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
/** Code-point length of a string; 0 for anything else. */
export const strLen = (v: unknown): number => (typeof v === 'string' ? codePoints(v) : 0);

/** A REST answer before it is written: status, JSON body, headers. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A JSON answer. */
export const json = (status: number, body: unknown, headers?: Record<string, string>): Reply =>
  headers ? { status, body, headers } : { status, body };
/** 204, as Discord answers deletes and typing. */
export const noContent = (): Reply => ({ status: 204 });
/** Discord's error body `{ message, code, errors? }`. */
export const apiError = (status: number, code: number, message: string, errors?: unknown): Reply =>
  json(status, errors === undefined ? { message, code } : { message, code, errors });
/** 404 code 10003. */
export const unknownChannel = (): Reply => apiError(404, 10003, 'Unknown Channel');
/** 404 code 10008. */
export const unknownMessage = (): Reply => apiError(404, 10008, 'Unknown Message');
/** 404 code 10015 (an interaction token Discord no longer knows). */
export const unknownWebhook = (): Reply => apiError(404, 10015, 'Unknown Webhook');
/** 404 code 10062 (a first callback too late). */
export const unknownInteraction = (): Reply => apiError(404, 10062, 'Unknown interaction');
/** 400 code 50035 with the tree of field errors. */
export const formError = (errors: unknown): Reply => apiError(400, 50035, 'Invalid Form Body', errors);

/** Discord's nested form errors: `{ field: { 0: { _errors: [{ code, message }] } } }`. */
export type ErrorTree = Record<string, unknown>;

/** Adds one error at `path` of the tree. */
export function addError(tree: ErrorTree, path: Array<string | number>, code: string, message: string): void {
  let node: ErrorTree = tree;
  for (const key of path) {
    const k = String(key);
    if (!isObj(node[k])) node[k] = {};
    node = node[k] as ErrorTree;
  }
  const list = (node['_errors'] as Array<{ code: string; message: string }> | undefined) ?? [];
  list.push({ code, message });
  node['_errors'] = list;
}

/** Adds BASE_TYPE_MAX_LENGTH when `value` is a string longer than `max` code points. */
export function maxLen(tree: ErrorTree, path: Array<string | number>, value: unknown, max: number): void {
  if (strLen(value) > max) addError(tree, path, 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
}

/** Form errors of a message payload (create or edit), Discord's shapes; empty object when valid. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function validateMessageBody(body: any): ErrorTree {
  const errors: ErrorTree = {};
  if (!isObj(body)) return errors;
  if (body['content'] != null && typeof body['content'] !== 'string') {
    addError(errors, ['content'], 'BASE_TYPE_STRING', 'Must be a string.');
  }
  maxLen(errors, ['content'], body['content'], 2000);
  const embeds = body['embeds'];
  if (Array.isArray(embeds)) {
    if (embeds.length > 10) addError(errors, ['embeds'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
    let total = 0;
    embeds.forEach((e: unknown, i: number) => {
      if (!isObj(e)) return;
      maxLen(errors, ['embeds', i, 'title'], e['title'], 256);
      maxLen(errors, ['embeds', i, 'description'], e['description'], 4096);
      total += strLen(e['title']) + strLen(e['description']);
      const footer = e['footer'];
      if (isObj(footer)) {
        maxLen(errors, ['embeds', i, 'footer', 'text'], footer['text'], 2048);
        total += strLen(footer['text']);
      }
      const author = e['author'];
      if (isObj(author)) {
        maxLen(errors, ['embeds', i, 'author', 'name'], author['name'], 256);
        total += strLen(author['name']);
      }
      const fields = e['fields'];
      if (Array.isArray(fields)) {
        if (fields.length > 25) {
          addError(errors, ['embeds', i, 'fields'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
        }
        fields.forEach((f: unknown, j: number) => {
          if (!isObj(f)) return;
          for (const [key, max] of [['name', 256], ['value', 1024]] as const) {
            if (strLen(f[key]) === 0) addError(errors, ['embeds', i, 'fields', j, key], 'BASE_TYPE_REQUIRED', 'This field is required');
            maxLen(errors, ['embeds', i, 'fields', j, key], f[key], max);
          }
          total += strLen(f['name']) + strLen(f['value']);
        });
      }
    });
    if (total > 6000) addError(errors, ['embeds'], 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000');
  }
  const components = body['components'];
  const v2 = typeof body['flags'] === 'number' && (body['flags'] & IS_COMPONENTS_V2) !== 0;
  if (Array.isArray(components) && !v2) {
    if (components.length > 5) addError(errors, ['components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
    components.forEach((row: unknown, i: number) => {
      if (!isObj(row) || !Array.isArray(row['components'])) return;
      const inner = row['components'] as unknown[];
      if (inner.length > 5) addError(errors, ['components', i, 'components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
      inner.forEach((c: unknown, j: number) => {
        if (!isObj(c)) return;
        maxLen(errors, ['components', i, 'components', j, 'custom_id'], c['custom_id'], 100);
        maxLen(errors, ['components', i, 'components', j, 'label'], c['label'], 80);
      });
    });
  }
  const am = body['allowed_mentions'];
  if (isObj(am) && Array.isArray(am['parse'])) {
    for (const kind of ['users', 'roles'] as const) {
      if (am['parse'].includes(kind) && Array.isArray(am[kind]) && am[kind].length > 0) {
        addError(errors, ['allowed_mentions'], 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE',
          `parse:["${kind}"] and ${kind}: [ids...] are mutually exclusive.`);
      }
    }
  }
  return errors;
}

/** True when the tree holds any error. */
export const hasErrors = (tree: ErrorTree): boolean => Object.keys(tree).length > 0;

/** A message with nothing to show (Discord refuses it with code 50006). */
export function isEmptyMessage(m: { content?: unknown; embeds?: unknown; components?: unknown; attachments?: unknown; sticker_ids?: unknown; poll?: unknown }, files: number): boolean {
  const nonEmptyArray = (v: unknown): boolean => Array.isArray(v) && v.length > 0;
  return (
    (typeof m.content !== 'string' || m.content.trim() === '') &&
    !nonEmptyArray(m.embeds) &&
    !nonEmptyArray(m.components) &&
    !nonEmptyArray(m.attachments) &&
    !nonEmptyArray(m.sticker_ids) &&
    !m.poll &&
    files === 0
  );
}

/** Discord's checks of application command payloads (the ones bots trip over). */
export function validateCommands(cmds: unknown[]): ErrorTree {
  const errors: ErrorTree = {};
  const nameRe = /^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;
  const seen = new Set<string>();
  if (cmds.length > 100) addError(errors, [], 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.');
  const checkOptions = (opts: unknown, path: Array<string | number>): void => {
    if (!Array.isArray(opts)) return;
    if (opts.length > 25) addError(errors, [...path, 'options'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
    opts.forEach((o: unknown, i: number) => {
      if (!isObj(o)) return;
      const p = [...path, 'options', i];
      const name = typeof o['name'] === 'string' ? o['name'] : '';
      if (!nameRe.test(name) || name !== name.toLowerCase()) addError(errors, [...p, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
      const dl = strLen(o['description']);
      if (dl < 1 || dl > 100) addError(errors, [...p, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
      if (Array.isArray(o['choices']) && o['choices'].length > 25) addError(errors, [...p, 'choices'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
      checkOptions(o['options'], p);
    });
  };
  cmds.forEach((c: unknown, i: number) => {
    if (!isObj(c)) {
      addError(errors, [i], 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
      return;
    }
    const type = typeof c['type'] === 'number' ? c['type'] : 1;
    const name = typeof c['name'] === 'string' ? c['name'] : '';
    if (type === 1) {
      if (!nameRe.test(name) || name !== name.toLowerCase()) addError(errors, [i, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
      const dl = strLen(c['description']);
      if (dl < 1 || dl > 100) addError(errors, [i, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
      checkOptions(c['options'], [i]);
    } else if (codePoints(name) < 1 || codePoints(name) > 32) {
      addError(errors, [i, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.');
    }
    const key = `${type}:${name}`;
    if (seen.has(key)) addError(errors, [i, 'name'], 'APPLICATION_COMMANDS_DUPLICATE_NAME', `Application command names must be unique`);
    seen.add(key);
  });
  return errors;
}
