/**
 * Runs JavaScript modules (ES modules) in a Deno Worker with permissions
 * "none": no files, network, environment or subprocesses of its own. The
 * worker is created from a data URL of the verified bytes (never from a
 * path), and sees a tiny `grid` API whose one door to the world is the host
 * call: every message is encoded as a CBOR grid message and checked by the
 * kernel against the module's grant. The run is bounded in time (the worker
 * is terminated), output and message size.
 *
 * @module
 */
import {
  ACCEPT,
  CAS_MODULE,
  type CID,
  type ExecRequest,
  type ExecResult,
  type Executor,
  GET_PROMISE,
  hashToText,
  PUT_PROMISE,
  REJECT,
} from "../../kernel/mod.ts";
import { WORKER_BOOT_SOURCE } from "./_worker_boot.ts";
import { bootUrl, type HashLink, runWorker } from "./_worker_host.ts";

const BOOT_URL = bootUrl(WORKER_BOOT_SOURCE);

function link(cid: CID): HashLink {
  return { "/": hashToText(cid) };
}

/** Runs `js` modules (JavaScript ES modules) in permission-less Workers. */
export class WorkerExecutor implements Executor {
  readonly kind = "js" as const;

  run(request: ExecRequest): Promise<ExecResult> {
    return runWorker(request, {
      boot: BOOT_URL,
      start: {
        // JavaScript, never TypeScript: a compiled grid loads data: URLs without stripping types.
        url: "data:application/javascript;base64," + request.bytes.toBase64(),
        args: [...request.args],
        name: request.name,
        promises: { get: link(GET_PROMISE.cid), put: link(PUT_PROMISE.cid) },
        modules: { cas: link(CAS_MODULE) },
        replies: { accept: link(ACCEPT), reject: link(REJECT) },
      },
    });
  }
}
