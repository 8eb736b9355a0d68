/**
 * The invites this node made for a net, kept in `invites.json` in the net's
 * folder (written atomically, 0600): what `grid invite list` shows and what
 * `grid invite revoke` marks. Only the public part is kept (the id, its
 * limits, who redeems it), never the bearer secret, which only the token
 * carries. A revoked invite is refused by this node when it admits, and
 * listed in this node's announcements so the admin it names refuses it too.
 *
 * @module
 */
import { type GridHome, writeTextFileAtomic } from "../../kernel/mod.ts";
import type { Invite } from "./invite.ts";
import { netDir } from "./net_store.ts";
import { MembershipError } from "./errors.ts";
import { MAX_REVOKED_INVITES } from "./announcements.ts";

/** Most invites remembered per net (the oldest go first). */
export const MAX_BOOKED_INVITES = 256;

/** One invite this node made. */
export interface BookedInvite {
  /** The invite's id (hash of its signed bytes). */
  id: string;
  /** When it was made, ms since the epoch. */
  made: number;
  /** When it expires, ms since the epoch. */
  exp: number;
  /** How many joins it allows. */
  uses: number;
  /** The admin that redeems it. */
  admin: string;
  /** Set when revoked: when. */
  revoked?: number;
}

/** The invites of one net, as this node made them. */
export class InviteBook {
  readonly #path: string;
  #list?: BookedInvite[];

  /** The book of net `name` in `home`. */
  constructor(home: GridHome, name: string) {
    this.#path = `${netDir(home, name)}/invites.json`;
  }

  /** Every invite, newest first. */
  async list(): Promise<BookedInvite[]> {
    if (this.#list) return this.#list;
    try {
      const data = JSON.parse(await Deno.readTextFile(this.#path));
      this.#list = Array.isArray(data?.invites) ? data.invites : [];
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound) && !(err instanceof SyntaxError)) throw err;
      this.#list = [];
    }
    return this.#list!;
  }

  async #save(list: BookedInvite[]): Promise<void> {
    this.#list = list;
    const text = JSON.stringify({ invites: list }, null, 2) + "\n";
    await writeTextFileAtomic(this.#path, text, { mode: 0o600 });
  }

  /** Remembers an invite just made (keeps the newest {@link MAX_BOOKED_INVITES}). */
  async add(invite: Invite, now: number): Promise<void> {
    const list = await this.list();
    const entry: BookedInvite = {
      id: invite.id,
      made: now,
      exp: invite.exp,
      uses: invite.uses,
      admin: invite.admin,
    };
    await this.#save(
      [entry, ...list.filter((i) => i.id !== invite.id)].slice(0, MAX_BOOKED_INVITES),
    );
  }

  /**
   * Marks the invite whose id starts with `prefix` revoked; returns it.
   * Throws when no invite or several match, or it already expired.
   */
  async revoke(prefix: string, now: number): Promise<BookedInvite> {
    const list = await this.list();
    const found = list.filter((i) => i.id.startsWith(prefix));
    if (found.length === 0) {
      throw new MembershipError(`No invite of this node starts with "${prefix}"`);
    }
    if (found.length > 1) {
      throw new MembershipError(`Several invites start with "${prefix}": give more of the id`);
    }
    const invite = found[0];
    if (invite.revoked === undefined) {
      invite.revoked = now;
      await this.#save(list);
    }
    return invite;
  }

  /** Ids of revoked invites not yet expired (what the announcements carry), newest first. */
  async revoked(now: number): Promise<string[]> {
    return (await this.list()).filter((i) => i.revoked !== undefined && i.exp > now)
      .slice(0, MAX_REVOKED_INVITES).map((i) => i.id);
  }
}
