// Types of sesh-client (lib/index.js).
import { EventEmitter } from 'events';

export type Durability = 'DEFAULT' | 'ONE' | 'QUORUM' | 'ALL';

export interface ClientOptions {
  /** host:port of nodes to fetch the topology from. At least one. */
  seeds: string[];
  /** Bound on each call, retries included. Default 2000. */
  deadlineMs?: number;
  /** Attempts per call, the first included. Default 3. */
  maxAttempts?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Merge concurrent Gets to a node into StreamGet messages. Default true. */
  coalesceGets?: boolean;
  /** Ids per StreamGet message. Default 64. */
  maxBatch?: number;
  maxBatchesInFlightPerNode?: number;
  /** Gets queued per node before RESOURCE_EXHAUSTED. Default 4096. */
  maxQueuedGetsPerNode?: number;
  /** Plaintext, for nodes run with --insecure only. */
  insecure?: boolean;
  /** PEM of the CA that signed the nodes' certificates (or tlsCaFile). */
  tlsCa?: string | Buffer;
  tlsCaFile?: string;
  /** Client certificate and key, for nodes run with --tls_client_ca. */
  tlsCert?: string | Buffer;
  tlsCertFile?: string;
  tlsKey?: string | Buffer;
  tlsKeyFile?: string;
  /** Name checked in the nodes' certificates instead of the address's host. */
  tlsServerName?: string;
  /** Namespace token, sent as `authorization: Bearer <token>` (or tokenFile). */
  token?: string;
  tokenFile?: string;
}

export interface Session {
  id: string;
  namespace: string;
  userId: string;
  attributes: Record<string, Buffer>;
  createdAtMs: number;
  lastAccessMs: number;
  idleTimeoutMs: number;
  absoluteDeadlineMs: number;
  expiresAtMs: number;
  /** HLC stamp as a decimal string (exceeds 2^53). */
  version: string;
  handle: string;
}

export type AttributeValue = string | Buffer | Uint8Array;

export interface CreateOptions {
  userId?: string;
  attributes?: Record<string, AttributeValue>;
  /** Required, > 0. */
  idleTimeoutMs: number;
  absoluteTtlMs?: number;
  durability?: Durability;
}

export interface UpdateOptions {
  set?: Record<string, AttributeValue>;
  remove?: string[];
  /** Non-zero: apply only at this version, else ABORTED. */
  expectedVersion?: string | number | bigint;
  durability?: Durability;
  skipTouch?: boolean;
}

export interface TopologyInfo {
  epoch: string;
  nodes: { id: string; address: string; up: boolean }[];
  replicationFactor: number;
  partitionCount: number;
  answeredBy: string;
}

/** gRPC status name in `code` ('NOT_FOUND', 'UNAVAILABLE', ...). */
export class SeshError extends Error {
  code: string;
  grpcCode: number;
}

export class SeshClient {
  /** Validates the options and fetches the topology. */
  static connect(options: ClientOptions): Promise<SeshClient>;
  /** Fetches the topology on first use. */
  constructor(options: ClientOptions);
  create(namespace: string, options: CreateOptions): Promise<Session>;
  get(namespace: string, id: string, options?: { touch?: boolean }): Promise<Session>;
  update(namespace: string, id: string, options: UpdateOptions): Promise<Session>;
  /** Resolves to the new expiresAtMs. */
  touch(namespace: string, id: string): Promise<number>;
  destroy(namespace: string, id: string, options?: { durability?: Durability }): Promise<void>;
  rotate(namespace: string, id: string, options?: { durability?: Durability }): Promise<Session>;
  batchGet(namespace: string, ids: string[], options?: { touch?: boolean }): Promise<(Session | SeshError)[]>;
  listByUser(namespace: string, userId: string,
    options?: { attributes?: string[]; pageSize?: number; pageToken?: string }):
    Promise<{ sessions: Session[]; nextPageToken: string }>;
  destroyByUser(namespace: string, userId: string,
    options?: { exceptId?: string; durability?: Durability }): Promise<number>;
  topology(): Promise<TopologyInfo>;
  ownerOf(id: string): string;
  nodeStats(nodeId: string): Promise<{ nodeId: string; requestsServed: number;
    requestsForwarded: number; storedSessions: number; serving: boolean }>;
  close(): void;
}

export interface SeshStoreOptions extends Partial<ClientOptions> {
  namespace: string;
  /** A client to share; else one is made from the ClientOptions. */
  client?: SeshClient;
  /** Idle timeout when the cookie has no maxAge. Default one day. */
  ttlMs?: number;
  absoluteTtlMs?: number;
  durability?: Durability;
  /** Keep the data across regenerate (Rotate's own semantics). Default false. */
  keepDataOnRegenerate?: boolean;
}

type Callback<T = void> = (err?: any, value?: T) => void;

/** An express-session Store (express-session is a peer dependency). */
export class SeshStore extends EventEmitter {
  constructor(options: SeshStoreOptions);
  readonly client: SeshClient;
  /** express-session's middleware with this store and Sesh-minted ids. */
  middleware(session: (options?: any) => any, options?: any): (req: any, res: any, next: (err?: any) => void) => void;
  get(sid: string, callback: Callback<any>): void;
  set(sid: string, session: any, callback?: Callback): void;
  touch(sid: string, session: any, callback?: Callback): void;
  destroy(sid: string, callback?: Callback): void;
  regenerate(req: any, callback: Callback): void;
  close(): void;
}

export function partitionOf(id: string, partitionCount?: number): number;
