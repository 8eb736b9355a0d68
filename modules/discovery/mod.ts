/**
 * Discovery on the local network: agents announce the open nets they
 * belong to (signed UDP broadcasts on port 7341), and `grid
 * join-wireguard-net NAME` with no invite and no URL asks the LAN and joins
 * the one open net of that name it hears of (see docs/membership.md).
 *
 * @example
 * ```ts
 * import { askLan, chooseNet, foundNets } from "./mod.ts";
 * const heard = await askLan("foo", { timeoutMs: 1500 });
 * const choice = chooseNet(foundNets(heard, "foo"));
 * if (choice.kind === "one") console.log(choice.net.urls[0]);
 * ```
 *
 * @module
 */
export {
  type Announcement,
  type AnnouncementFacts,
  LAN_PORT,
  readAnnouncement,
  signAnnouncement,
} from "./announcement.ts";
export {
  chooseNet,
  type FoundNet,
  foundNets,
  type NetChoice,
  type Sighting,
  Sightings,
} from "./choice.ts";
export { askLan, type AskLanOptions, LanAnnouncer, type LanAnnouncerOptions } from "./lan.ts";
export { discoveryService, openNets } from "./service.ts";
