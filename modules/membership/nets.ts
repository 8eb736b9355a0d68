/**
 * The nets this node belongs to, in memory and on disk: each net's settings,
 * its verified records and the member set folded from them. Every change to
 * a net goes through {@link Nets.ingest} (verify, keep on disk, refold) and
 * is announced to listeners (the anti-entropy push, the reconcile loop).
 *
 * @module
 */
import {
  type GridHome,
  hashToText,
  type Identity,
  type Logger,
  NotFoundError,
  oneLine,
} from "../../kernel/mod.ts";
import {
  type MemberRecord,
  type NetPolicy,
  parseRecord,
  type RecordDraft,
  signRecord,
} from "./records.ts";
import { foldMembers, isLive, type MemberSet } from "./member_set.ts";
import { allocateAddress, parseCidr } from "./ipam.ts";
import { createInvite, type Invite } from "./invite.ts";
import { planAdmission } from "./admission.ts";
import { parentsFirst } from "./_record_order.ts";
import { planIntake } from "./_intake.ts";
import { type MemberRequest, parseMemberRequest } from "./member_request.ts";
import {
  listNetNames,
  type NetSettings,
  readRecordFiles,
  readSettings,
  removeNetDir,
  writeRecordFile,
  writeSettings,
} from "./net_store.ts";
import { MembershipError } from "./errors.ts";
import { checkNetName } from "./patterns.ts";

/** Most joiners one member admits per minute (a bound for open nets). */
export const MAX_ADMITS_PER_MINUTE = 60;
export { MAX_PENDING } from "./_intake.ts";

/** One net this node belongs to. */
export interface NetState {
  /** This node's settings for the net. */
  settings: NetSettings;
  /** Verified records by id. */
  readonly records: Map<string, MemberRecord>;
  /** Records waiting for a parent, by id. */
  readonly pending: Map<string, MemberRecord>;
  /** The current fold. */
  set: MemberSet;
}

/** What {@link Nets.ingest} did. */
export interface IngestResult {
  /** Records kept, in the order they were kept (parents first). */
  added: MemberRecord[];
  /** Records refused, with why (one line each). */
  refused: string[];
  /** Parent hashes still missing. */
  missing: string[];
}

/** Options for {@link Nets}. */
export interface NetsOptions {
  /** The grid home holding `state/nets/`. */
  home: GridHome;
  /** This node's identity (signs records and invites). */
  identity: Identity;
  /** Where events are logged. */
  log?: Logger;
  /** The clock (tests). */
  now?: () => number;
}

/** Options for {@link Nets.create}. */
export interface CreateNetOptions {
  /** Net name. */
  name: string;
  /** Address block, e.g. `10.77.0.0/16`. */
  cidr: string;
  /** Open, or invite only. */
  policy: NetPolicy;
  /** Pairwise pre-shared keys on or off. */
  psk: boolean;
  /** Signs the founder's own request for the new net's id (its keys, name, endpoint, URL). */
  request: (net: string) => Promise<MemberRequest>;
  /** This node's WireGuard interface for the net. */
  interface: string;
  /** This node's WireGuard port. */
  listenPort: number;
  /** This node's endpoint, when given. */
  endpoint?: string;
}

/** The nets of one node. */
export class Nets {
  readonly #home: GridHome;
  readonly #identity: Identity;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #nets = new Map<string, NetState>();
  #admitTimes: number[] = [];
  readonly #listeners = new Set<(net: NetState, added: MemberRecord[]) => void>();

  /** The nets of the node `options.identity`; call {@link Nets.load} to read them. */
  constructor(options: NetsOptions) {
    this.#home = options.home;
    this.#identity = options.identity;
    this.#log = options.log ?? (() => {});
    this.#now = options.now ?? Date.now;
  }

  /** This node's id. */
  get selfId(): string {
    return this.#identity.id;
  }

  /** Loads every net on disk not yet loaded, and new record files of loaded ones. */
  async load(): Promise<void> {
    for (const name of await listNetNames(this.#home)) {
      try {
        const settings = await readSettings(this.#home, name);
        if (!settings) continue;
        const known = this.#nets.get(name);
        if (known) {
          // Records another process (an offline command) wrote since: read only those.
          const fresh = await readRecordFiles(this.#home, name, known.records);
          if (fresh.length > 0) await this.ingest(name, fresh, { store: false });
          continue;
        }
        await this.#open(settings, await readRecordFiles(this.#home, name));
      } catch (err) {
        this.#log("warn", "net-load-failed", { net: name, why: oneLine(err) });
      }
    }
  }

  async #open(settings: NetSettings, files: Uint8Array[]): Promise<NetState> {
    const parsed: MemberRecord[] = [];
    for (const bytes of files) {
      try {
        parsed.push(await parseRecord(bytes, settings.net));
      } catch (err) {
        this.#log("warn", "record-skipped", { net: settings.name, why: oneLine(err) });
      }
    }
    const genesis = parsed.find((r) => r.kind === "genesis" && r.id === settings.net);
    if (!genesis) throw new MembershipError(`Net "${settings.name}" has no genesis record on disk`);
    return await this.#seed(settings, genesis, parsed, false);
  }

  /** Starts net `settings.name` from its genesis, then takes in the rest of `records`. */
  async #seed(
    settings: NetSettings,
    genesis: MemberRecord,
    records: MemberRecord[],
    store: boolean,
  ): Promise<NetState> {
    const state: NetState = {
      settings,
      records: new Map([[genesis.id, genesis]]),
      pending: new Map(),
      set: foldMembers([genesis]),
    };
    this.#nets.set(settings.name, state);
    await this.#accept(state, records.filter((r) => r !== genesis), store);
    return state;
  }

  /** Net names, sorted. */
  names(): string[] {
    return [...this.#nets.keys()].sort();
  }

  /** The net called `name`. */
  get(name: string): NetState | undefined {
    return this.#nets.get(name);
  }

  /** The net called `name`, or a clear error. */
  require(name: string): NetState {
    const state = this.#nets.get(name);
    if (!state) throw new MembershipError(`This node is not in a net called "${name}"`);
    return state;
  }

  /** The net with this id. */
  byId(netId: string): NetState | undefined {
    for (const state of this.#nets.values()) if (state.settings.net === netId) return state;
    return undefined;
  }

  /** Calls `listener` after every change; returns an unsubscribe function. */
  onChange(listener: (net: NetState, added: MemberRecord[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Founds a net: a genesis record and the founder's own admit. */
  async create(options: CreateNetOptions): Promise<NetState> {
    checkNetName(options.name);
    if (this.#nets.has(options.name) || await readSettings(this.#home, options.name)) {
      throw new MembershipError(`A net called "${options.name}" already exists on this node`);
    }
    const cidr = parseCidr(options.cidr);
    const genesis = await signRecord(this.#identity, {
      kind: "genesis",
      name: options.name,
      cidr: cidr.text,
      policy: options.policy,
      psk: options.psk,
    }, { time: this.#now() });
    const request = await options.request(genesis.id);
    const address = allocateAddress(cidr, request.wg, new Set());
    const admit = await signRecord(this.#identity, {
      kind: "admit",
      request,
      address,
    }, { net: genesis.id, parents: [genesis.id], time: this.#now() });
    const settings: NetSettings = {
      name: options.name,
      net: genesis.id,
      interface: options.interface,
      listenPort: options.listenPort,
      endpoint: options.endpoint,
    };
    return await this.adopt(settings, [genesis.bytes, admit.bytes]);
  }

  /**
   * Takes up a net from its records (after a join, or at create): checks the
   * genesis, keeps everything on disk, then writes the settings last so a
   * crash in between leaves no half-joined net behind.
   */
  async adopt(settings: NetSettings, records: Uint8Array[]): Promise<NetState> {
    const parsed: MemberRecord[] = [];
    for (const bytes of records) parsed.push(await parseRecord(bytes, settings.net));
    const genesis = parsed.find((r) => r.kind === "genesis");
    if (!genesis || genesis.id !== settings.net) {
      throw new MembershipError(`The records of net "${settings.name}" lack its genesis`);
    }
    if (genesis.kind === "genesis" && genesis.name !== settings.name) {
      throw new MembershipError(
        `The net is called "${genesis.name}", not "${settings.name}"`,
      );
    }
    await writeRecordFile(this.#home, settings.name, genesis.id, genesis.bytes);
    const state = await this.#seed(settings, genesis, parsed, true);
    await writeSettings(this.#home, settings);
    return state;
  }

  /** Updates this node's settings for a net. */
  async updateSettings(name: string, change: Partial<NetSettings>): Promise<void> {
    const state = this.require(name);
    state.settings = {
      ...state.settings,
      ...change,
      name: state.settings.name,
      net: state.settings.net,
    };
    await writeSettings(this.#home, state.settings);
  }

  /** Forgets a net here (after leaving or being revoked): its folder is removed. */
  async forget(name: string): Promise<void> {
    this.#nets.delete(name);
    await removeNetDir(this.#home, name);
  }

  /**
   * Verifies and keeps records from anywhere (a peer, disk). Refuses records
   * that are malformed, badly signed, of another net or by a node never
   * admitted; holds those whose parents are missing until they arrive.
   */
  async ingest(
    name: string,
    records: Uint8Array[],
    options: { store?: boolean } = {},
  ): Promise<IngestResult> {
    const state = this.require(name);
    const refused: string[] = [];
    const fresh: MemberRecord[] = [];
    for (const bytes of records) {
      try {
        const record = await parseRecord(bytes, state.settings.net);
        if (!state.records.has(record.id) && !state.pending.has(record.id)) fresh.push(record);
      } catch (err) {
        refused.push(oneLine(err));
      }
    }
    const result = await this.#accept(state, fresh, options.store ?? true);
    return { ...result, refused: [...refused, ...result.refused] };
  }

  async #accept(state: NetState, fresh: MemberRecord[], store: boolean): Promise<IngestResult> {
    const { added, refused, waiting, missing } = planIntake({
      netName: state.settings.name,
      founder: state.set.net.founder,
      records: state.records,
      pending: state.pending,
      fresh,
    });
    for (const r of added) {
      if (store) await writeRecordFile(this.#home, state.settings.name, r.id, r.bytes);
      state.records.set(r.id, r);
    }
    state.pending.clear();
    for (const r of waiting) state.pending.set(r.id, r);
    if (added.length > 0) {
      state.set = foldMembers(state.records.values(), state.settings.net);
      for (const listener of this.#listeners) {
        try {
          listener(state, added);
        } catch (err) {
          this.#log("warn", "net-listener-failed", { why: oneLine(err) });
        }
      }
    }
    return { added, refused, missing };
  }

  /** Signs a record as this node on top of the net's heads and keeps it. */
  async append(name: string, draft: RecordDraft): Promise<MemberRecord> {
    const state = this.require(name);
    if (!isLive(state.set, this.selfId)) {
      throw new MembershipError(`This node is no longer a live member of net "${name}"`);
    }
    const record = await signRecord(this.#identity, draft, {
      net: state.settings.net,
      parents: state.set.heads,
      time: this.#now(),
    });
    const result = await this.#accept(state, [record], true);
    if (result.added.length !== 1) {
      throw new MembershipError(
        `Cannot record the ${draft.kind} in net "${name}": ${result.refused[0]}`,
      );
    }
    return record;
  }

  /** Makes an invite to net `name`. */
  async invite(
    name: string,
    options: { urls: string[]; ttlMs?: number; uses?: number },
  ): Promise<Invite> {
    const state = this.require(name);
    if (!isLive(state.set, this.selfId)) {
      throw new MembershipError(`This node is no longer a live member of net "${name}"`);
    }
    return await createInvite(this.#identity, {
      net: state.settings.net,
      netName: name,
      urls: options.urls,
      ttlMs: options.ttlMs,
      uses: options.uses,
      now: this.#now(),
    });
  }

  /**
   * The admitter's side of a join: checks the request against the net's
   * rules (open or invite; unexpired, unused, by a live member), allocates an
   * address, signs the admit and keeps it. Returns the net's records for the
   * joiner. A retry by an already admitted joiner with the same key gets the
   * records again.
   */
  async admit(
    requestBytes: Uint8Array,
    options: { joinPromise: string },
  ): Promise<{ state: NetState; records: Uint8Array[]; address: string }> {
    const now = this.#now();
    this.#admitTimes = this.#admitTimes.filter((t) => now - t < 60_000);
    if (this.#admitTimes.length >= MAX_ADMITS_PER_MINUTE) {
      throw new MembershipError(
        "This member admits at most 60 joiners a minute; try again shortly",
      );
    }
    const req = await parseMemberRequest(requestBytes);
    if (hashToText(req.promise) !== options.joinPromise) {
      throw new MembershipError("The request does not make this net's join promise");
    }
    const state = req.net !== "" ? this.byId(req.net) : this.#nets.get(req.netName);
    if (!state || state.set.net.name !== req.netName) {
      // not-found, not membership: a joiner asking every peer it knows moves on to the next.
      throw new NotFoundError(`This node is not a member of net "${req.netName}"`);
    }
    const set = state.set;
    const name = set.net.name;
    const { again, address } = planAdmission(set, req, { selfId: this.selfId, now: this.#now() });
    if (again) return { state, records: this.recordsInOrder(name), address };
    const record = await signRecord(this.#identity, { kind: "admit", request: req, address }, {
      net: set.net.id,
      parents: set.heads,
      time: this.#now(),
    });
    const trial = foldMembers([...state.records.values(), record], set.net.id);
    if (trial.status.get(req.id) !== "live") {
      throw new MembershipError(
        `Net "${name}" refuses the join: ${trial.ignored.get(record.id) ?? "unknown reason"}`,
      );
    }
    await this.#accept(state, [record], true);
    this.#admitTimes.push(now);
    return {
      state,
      records: this.recordsInOrder(name),
      address: state.set.members.get(req.id)?.address ?? address,
    };
  }

  /** A net's records, parents before children. */
  recordsInOrder(name: string): Uint8Array[] {
    return parentsFirst(this.require(name).records);
  }
}
