/**
 * The nets this node belongs to, in memory and on disk: each net's settings,
 * its verified records, the member set folded from them, and its members'
 * announcements. Every change to a net goes through {@link Nets.ingest}
 * (verify, keep on disk, refold) and is announced to listeners (the
 * anti-entropy push, the reconcile loop); what changed for whom is logged
 * (`member-revoked net=… node=… by=…`) on every node alike, from the fold.
 *
 * This node's own records (an admit it signs, its leave, a revoke) are
 * written one at a time per net, each on top of the last, so an admin's
 * admits form one causal chain.
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
  type InvitePolicy,
  type MemberRecord,
  type NetPolicy,
  parseRecord,
  type RecordDraft,
  recordHash,
  signRecord,
} from "./records.ts";
import {
  foldMembers,
  isAdmin,
  isLive,
  mayInvite,
  type Member,
  type MemberSet,
} from "./member_set.ts";
import { allocateAddress, defaultSlicePrefix, parseCidr, pickSlice } from "./ipam.ts";
import { InviteBook } from "./invite_book.ts";
import { createInvite, type InviteToken } from "./invite.ts";
import { planAdmission } from "./admission.ts";
import { parentsFirst } from "./_record_order.ts";
import { planIntake } from "./_intake.ts";
import { type MemberRequest, parseMemberRequest } from "./member_request.ts";
import { type Announcement, AnnouncementBook, type OfferResult } from "./announcements.ts";
import {
  listNetNames,
  type NetSettings,
  readRecordFiles,
  readSettings,
  removeNetDir,
  writeRecordFile,
  writeRecordFiles,
  writeSettings,
} from "./net_store.ts";
import { MembershipError } from "./errors.ts";
import { checkNetName } from "./patterns.ts";

/** Least time between two rounds of effects of announcement changes in one net. */
export const ANNOUNCEMENT_SETTLE_MS = 500;
/** Most joiners one admin admits per minute (a bound for open nets). */
export const MAX_ADMITS_PER_MINUTE = 600;
export { MAX_PENDING } from "./_intake.ts";

/** One net this node belongs to. */
export interface NetState {
  /** This node's settings for the net. */
  settings: NetSettings;
  /** Verified records by id. */
  readonly records: Map<string, MemberRecord>;
  /** Records waiting for a parent, by id, with the peer they came from. */
  readonly pending: Map<string, { record: MemberRecord; from: string }>;
  /** The current fold. */
  set: MemberSet;
  /** The members' latest announcements. */
  readonly announcements: AnnouncementBook;
  /** The records' bytes, parents first (cached until the next change). */
  ordered?: Uint8Array[];
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
  /** Who may sign invites (default: every member). */
  invite?: InvitePolicy;
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

/** A member's endpoint and URL: its latest announcement's, else its request's. */
export function memberReach(state: NetState, m: Member): { endpoint?: string; url?: string } {
  const a = state.announcements.get(m.id);
  return { endpoint: a?.endpoint ?? m.endpoint, url: a?.url ?? m.url };
}

/** The nets of one node. */
export class Nets {
  readonly #home: GridHome;
  readonly #identity: Identity;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #nets = new Map<string, NetState>();
  readonly #locks = new Map<string, Promise<unknown>>();
  #admitTimes: number[] = [];
  readonly #listeners = new Set<(net: NetState, added: MemberRecord[]) => void>();
  readonly #saving = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #books = new Map<string, InviteBook>();

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
          if (settings.revoked && !known.settings.revoked) known.settings = settings;
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
    let genesisError: unknown;
    for (const bytes of files) {
      try {
        parsed.push(await parseRecord(bytes, settings.net));
      } catch (err) {
        genesisError ??= err;
        this.#log("debug", "record-skipped", { net: settings.name, why: oneLine(err) });
      }
    }
    const genesis = parsed.find((r) => r.kind === "genesis" && r.id === settings.net);
    if (!genesis) {
      // Typically a net of an older grid: say which version, once.
      throw genesisError instanceof MembershipError
        ? genesisError
        : new MembershipError(`Net "${settings.name}" has no genesis record on disk`);
    }
    const state = await this.#seed(settings, genesis, parsed, false);
    await state.announcements.load(this.#home, settings.name, settings.net);
    state.announcements.prune((id) => isLive(state.set, id));
    return state;
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
      announcements: new AnnouncementBook(),
    };
    this.#nets.set(settings.name, state);
    await this.#accept(state, records.filter((r) => r !== genesis), store, "", false);
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

  /** Runs `work` alone among this node's writes to net `name` (one causal chain). */
  async #locked<T>(name: string, work: () => Promise<T>): Promise<T> {
    const before = this.#locks.get(name) ?? Promise.resolve();
    const run = before.then(work, work);
    const tail = run.catch(() => {});
    this.#locks.set(name, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(name) === tail) this.#locks.delete(name);
    }
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
      invite: options.invite ?? "members",
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
  async forget(name: string, options: { keepKeys?: boolean } = {}): Promise<void> {
    this.#nets.delete(name);
    const timer = this.#saving.get(name);
    if (timer !== undefined) clearTimeout(timer);
    this.#saving.delete(name);
    await removeNetDir(this.#home, name, options);
  }

  /**
   * Verifies and keeps records from anywhere (a peer, disk). Refuses records
   * that are malformed, badly signed, of another net or by a node never
   * admitted; holds those whose parents are missing until they arrive (at
   * most a few per sending peer).
   */
  async ingest(
    name: string,
    records: Uint8Array[],
    options: { store?: boolean; from?: string } = {},
  ): Promise<IngestResult> {
    const state = this.require(name);
    const refused: string[] = [];
    const fresh: MemberRecord[] = [];
    for (const bytes of records) {
      // A record held already is known by its hash: no second parse, no second signature check.
      const id = hashToText(recordHash(bytes));
      if (state.records.has(id) || state.pending.has(id)) continue;
      try {
        const record = await parseRecord(bytes, state.settings.net);
        fresh.push(record);
      } catch (err) {
        refused.push(oneLine(err));
      }
    }
    const result = await this.#accept(state, fresh, options.store ?? true, options.from ?? "");
    return { ...result, refused: [...refused, ...result.refused] };
  }

  async #accept(
    state: NetState,
    fresh: MemberRecord[],
    store: boolean,
    from: string,
    announce = true,
  ): Promise<IngestResult> {
    const { added, refused, waiting, missing } = planIntake({
      netName: state.settings.name,
      founder: state.set.net.founder,
      admins: new Set(state.set.admins.keys()),
      isLive: (id) => isLive(state.set, id),
      records: state.records,
      pending: state.pending,
      fresh,
      from,
    });
    if (store) await writeRecordFiles(this.#home, state.settings.name, added);
    for (const r of added) state.records.set(r.id, r);
    state.pending.clear();
    for (const w of waiting) state.pending.set(w.record.id, w);
    if (added.length > 0) {
      const before = state.set;
      state.set = foldMembers(state.records.values(), state.settings.net);
      state.ordered = undefined;
      state.announcements.prune((id) => isLive(state.set, id));
      if (announce) this.#logChanges(state, before);
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

  /** Logs what the fold changed for whom: the same lines on every node. */
  #logChanges(state: NetState, before: MemberSet): void {
    const net = state.settings.name;
    for (const m of state.set.members.values()) {
      const was = before.members.get(m.id);
      if (was?.status === m.status && was.admit === m.admit && was.role === m.role) continue;
      const fields = { net, node: m.id, name: m.name, address: m.address, address6: m.address6 };
      if (m.status === "revoked" && was?.status !== "revoked") {
        const by = m.revokedBy ? state.set.members.get(m.revokedBy)?.name : undefined;
        this.#log("info", "member-revoked", { ...fields, by: m.revokedBy, byName: by });
      } else if (m.status === "left" && was?.status !== "left") {
        this.#log("info", "member-left", fields);
      } else if (m.status === "live" && (was?.status !== "live" || was.admit !== m.admit)) {
        const by = state.set.members.get(m.admittedBy)?.name;
        this.#log("info", "member-added", { ...fields, by: m.admittedBy, byName: by });
      }
      if (was && was.role !== m.role && m.status === "live") {
        this.#log("info", m.role === "admin" ? "admin-granted" : "admin-removed", {
          net,
          node: m.id,
          name: m.name,
          slice: m.slice,
        });
      }
    }
  }

  /** Signs a record as this node on top of the net's heads and keeps it (one at a time). */
  append(name: string, draft: RecordDraft): Promise<MemberRecord> {
    return this.#locked(name, () => this.#append(name, draft));
  }

  async #append(name: string, draft: RecordDraft): Promise<MemberRecord> {
    const state = this.require(name);
    if (!isLive(state.set, this.selfId)) {
      throw new MembershipError(`This node is no longer a live member of net "${name}"`);
    }
    const record = await signRecord(this.#identity, draft, {
      net: state.settings.net,
      parents: state.set.heads,
      time: this.#now(),
    });
    const trial = foldMembers([...state.records.values(), record], state.settings.net);
    const why = trial.ignored.get(record.id);
    if (why) throw new MembershipError(`Net "${name}" would ignore this ${draft.kind}: ${why}`);
    const result = await this.#accept(state, [record], true, "");
    if (result.added.length !== 1) {
      throw new MembershipError(
        `Cannot record the ${draft.kind} in net "${name}": ${result.refused[0]}`,
      );
    }
    return record;
  }

  /**
   * Makes an invite to net `name`, redeemed by `options.admin` (default: this
   * node if it is an admin, else the founder, else another live admin).
   */
  async invite(
    name: string,
    options: { urls: string[]; ttlMs?: number; uses?: number; admin?: string },
  ): Promise<InviteToken> {
    const state = this.require(name);
    const set = state.set;
    if (!isLive(set, this.selfId)) {
      throw new MembershipError(`This node is no longer a live member of net "${name}"`);
    }
    if (!mayInvite(set, this.selfId)) {
      throw new MembershipError(`Only admins invite to net "${name}"; this node is not one`);
    }
    const admin = options.admin ?? this.defaultAdmin(set);
    if (!isAdmin(set, admin)) {
      throw new MembershipError(`Node "${admin}" is not an admin of net "${name}"`);
    }
    const token = await createInvite(this.#identity, {
      net: state.settings.net,
      netName: name,
      urls: options.urls,
      ttlMs: options.ttlMs,
      uses: options.uses,
      admin,
      now: this.#now(),
    });
    await this.inviteBook(name).add(token.invite, this.#now());
    return token;
  }

  /** The invites this node made for net `name` (`grid invite list`, `revoke`). */
  inviteBook(name: string): InviteBook {
    this.require(name);
    let book = this.#books.get(name);
    if (!book) {
      book = new InviteBook(this.#home, name);
      this.#books.set(name, book);
    }
    return book;
  }

  /** The admin an invite of this node's names: itself if it is one, else the founder, else any. */
  defaultAdmin(set: MemberSet): string {
    if (isAdmin(set, this.selfId)) return this.selfId;
    if (isAdmin(set, set.net.founder)) return set.net.founder;
    const other = [...set.admins.keys()].sort().find((id) => isAdmin(set, id));
    if (!other) throw new MembershipError(`Net "${set.net.name}" has no live admin`);
    return other;
  }

  /**
   * The founder grants `member` admin rights with an address slice (default:
   * the first free block of a sixteenth of the net's), or takes them away.
   */
  grant(
    name: string,
    member: Member,
    role: "admin" | "member",
    slice?: string,
  ): Promise<MemberRecord> {
    return this.#locked(name, () => {
      const set = this.require(name).set;
      if (set.net.founder !== this.selfId) {
        throw new MembershipError(`Only the founder of net "${name}" names its admins`);
      }
      let chosen: string | undefined;
      if (role === "admin") {
        const taken = [...set.admins.values()].map((g) => g.slice);
        const held = [...set.members.values()].filter((m) => m.status === "live")
          .map((m) => m.address);
        chosen = slice === undefined
          ? pickSlice(set.net.cidr, defaultSlicePrefix(set.net.cidr), taken, held).text
          : parseCidr(slice).text;
      }
      return this.#append(name, {
        kind: "role",
        member: member.id,
        admit: member.admit,
        role,
        slice: chosen,
      });
    });
  }

  /**
   * The admin's side of a join: checks the request against the net's rules,
   * allocates an address in this admin's slice, signs the admit and keeps it,
   * one join at a time. Returns the net's records for the joiner. A retry by
   * an already admitted joiner with the same key gets the records again.
   */
  admit(
    requestBytes: Uint8Array,
    options: { joinPromise: string },
  ): Promise<{ state: NetState; records: Uint8Array[]; address: string }> {
    return this.#admitRequest(requestBytes, options);
  }

  async #admitRequest(
    requestBytes: Uint8Array,
    options: { joinPromise: string },
  ): Promise<{ state: NetState; records: Uint8Array[]; address: string }> {
    const req = await parseMemberRequest(requestBytes);
    if (hashToText(req.promise) !== options.joinPromise) {
      throw new MembershipError("The request does not make this net's join promise");
    }
    const found = this.netOf(req);
    return await this.#locked(found.settings.name, async () => {
      const now = this.#now();
      this.#admitTimes = this.#admitTimes.filter((t) => now - t < 60_000);
      if (this.#admitTimes.length >= MAX_ADMITS_PER_MINUTE) {
        throw new MembershipError(
          `This admin admits at most ${MAX_ADMITS_PER_MINUTE} joiners a minute; try again shortly`,
        );
      }
      const state = this.netOf(req);
      const set = state.set;
      const name = set.net.name;
      const mine = new Set(await this.inviteBook(name).revoked(now));
      const { again, address } = planAdmission(set, req, {
        selfId: this.selfId,
        now,
        revokedInvite: (id, inviter) =>
          mine.has(id) || (state.announcements.get(inviter)?.revokedInvites ?? []).includes(id),
      });
      if (again) return { state, records: this.recordsInOrder(name), address };
      const record = await signRecord(this.#identity, { kind: "admit", request: req, address }, {
        net: set.net.id,
        parents: set.heads,
        time: now,
      });
      const trial = foldMembers([...state.records.values(), record], set.net.id);
      if (trial.status.get(req.id) !== "live") {
        throw new MembershipError(
          `Net "${name}" refuses the join: ${trial.ignored.get(record.id) ?? "unknown reason"}`,
        );
      }
      await this.#accept(state, [record], true, "");
      this.#admitTimes.push(now);
      return {
        state,
        records: this.recordsInOrder(name),
        address: state.set.members.get(req.id)?.address ?? address,
      };
    });
  }

  /** The net a join request is for; a not-found error lets a joiner move on to the next peer. */
  netOf(req: MemberRequest): NetState {
    const state = req.net !== "" ? this.byId(req.net) : this.#nets.get(req.netName);
    if (!state || state.set.net.name !== req.netName) {
      throw new NotFoundError(`This node is not a member of net "${req.netName}"`);
    }
    return state;
  }

  /**
   * Takes a revoke of this node that an admin sent straight to it (it gets
   * nothing else once revoked): checks that the record is a revoke of this
   * node signed by an admin of the net as this node knows it, then marks the
   * net revoked here. True when it was taken.
   */
  async noteRevoked(name: string, bytes: Uint8Array): Promise<boolean> {
    const state = this.require(name);
    const record = await parseRecord(bytes, state.settings.net);
    if (record.kind !== "revoked" || record.member !== this.selfId) return false;
    if (!isAdmin(state.set, record.author)) return false;
    const self = state.set.members.get(this.selfId);
    if (!self || self.admit !== record.admit) return false;
    if (state.settings.revoked) return false;
    await this.updateSettings(name, { revoked: { by: record.author, record: record.id } });
    this.#log("warn", "net-revoked", { net: name, by: record.author, record: record.id });
    for (const listener of this.#listeners) {
      try {
        listener(state, []);
      } catch (err) {
        this.#log("warn", "net-listener-failed", { why: oneLine(err) });
      }
    }
    return true;
  }

  /**
   * Keeps a member's announcement when it is newer. What follows a change
   * (listeners: reconcile, dialling; saving the book) runs at most once per
   * {@link ANNOUNCEMENT_SETTLE_MS} per net, so a member sending thousands a
   * second costs each node one pass, not thousands.
   */
  offerAnnouncement(name: string, a: Announcement): OfferResult {
    const state = this.require(name);
    const result = state.announcements.offer(a, (id) => isLive(state.set, id), this.#now());
    if (result === "kept") this.#settleSoon(name, state);
    return result;
  }

  #settleSoon(name: string, state: NetState): void {
    if (this.#saving.has(name)) return;
    this.#saving.set(
      name,
      setTimeout(() => {
        this.#saving.delete(name);
        if (this.#nets.get(name) !== state) return;
        for (const listener of this.#listeners) {
          try {
            listener(state, []);
          } catch (err) {
            this.#log("warn", "net-listener-failed", { why: oneLine(err) });
          }
        }
        state.announcements.save(this.#home, name).catch((err) =>
          this.#log("warn", "announcements-save-failed", { net: name, why: oneLine(err) })
        );
      }, ANNOUNCEMENT_SETTLE_MS),
    );
  }

  /** Stops pending saves (the agent is stopping); saves what changed. */
  async flush(): Promise<void> {
    for (const [name, timer] of this.#saving) {
      clearTimeout(timer);
      const state = this.#nets.get(name);
      if (state) await state.announcements.save(this.#home, name).catch(() => {});
    }
    this.#saving.clear();
  }

  /** A net's records, parents before children (cached until the next change). */
  recordsInOrder(name: string): Uint8Array[] {
    const state = this.require(name);
    state.ordered ??= parentsFirst(state.records);
    return state.ordered;
  }
}
