import type { SessionData } from './types.js';

/**
 * Declare your session data type here, once per app, and every adapter types `req.session.data`
 * (Express), `request.session.data` (Fastify) and its helpers with it. Use a type alias or an
 * object type, not an interface: an interface has no index signature, so it is not a
 * `SessionData` and would leave the data typed as `SessionData`.
 *
 * @example
 * ```ts
 * type AppData = { role: 'member' | 'admin' }
 * declare module '@org/session-core' {
 *   interface Register {
 *     data: AppData
 *   }
 * }
 * // req.session?.data.role is now 'member' | 'admin'
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by declaration merging in apps.
export interface Register {}

/** The session data type declared in {@link Register}, or `SessionData` when none is. */
export type RegisteredData = Register extends { data: infer D extends SessionData } ? D : SessionData;
