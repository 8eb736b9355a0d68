/**
 * A minimal WebAssembly binary writer: enough to build small grid modules
 * from code in tests and benchmarks without a toolchain or network (types,
 * imports, one memory, functions, exports, data segments, and the handful
 * of instructions in {@link op}).
 *
 * @module
 */

/** Value type i32. */
export const I32 = 0x7f;

/** A function signature. */
export interface FuncType {
  /** Parameter value types. */
  params: number[];
  /** Result value types. */
  results: number[];
}

/** A function imported from the host. */
export interface WasmImport {
  /** Import module name. */
  module: string;
  /** Import field name. */
  name: string;
  /** Its signature. */
  type: FuncType;
}

/** A function defined in the module; its index follows the imports. */
export interface WasmFunc {
  /** Its signature. */
  type: FuncType;
  /** Number of extra i32 locals. */
  locals?: number;
  /** Instructions, without the final `end`. */
  body: number[];
  /** Export name, if exported. */
  export?: string;
}

/** A module to write. */
export interface WasmModuleSpec {
  /** Host functions, numbered first. */
  imports?: WasmImport[];
  /** Functions defined here, numbered after the imports. */
  funcs: WasmFunc[];
  /** Pages of 64 KiB of memory, exported as "memory" (default 1). */
  memoryPages?: number;
  /** Bytes placed in memory at start. */
  data?: { offset: number; bytes: Uint8Array }[];
}

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (32-bit range). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** The instructions this writer knows. */
export const op = {
  i32Const: (n: number): number[] => [0x41, ...sleb(n)],
  call: (index: number): number[] => [0x10, ...uleb(index)],
  localGet: (index: number): number[] => [0x20, ...uleb(index)],
  localSet: (index: number): number[] => [0x21, ...uleb(index)],
  drop: (): number[] => [0x1a],
  loop: (): number[] => [0x03, 0x40],
  br: (depth: number): number[] => [0x0c, ...uleb(depth)],
  brIf: (depth: number): number[] => [0x0d, ...uleb(depth)],
  localTee: (index: number): number[] => [0x22, ...uleb(index)],
  i32Sub: (): number[] => [0x6b],
  end: (): number[] => [0x0b],
};

function name(text: string): number[] {
  const bytes = new TextEncoder().encode(text);
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** Writes the module's binary form. */
export function buildWasm(spec: WasmModuleSpec): Uint8Array {
  const imports = spec.imports ?? [];
  const types: string[] = [];
  const typeIndex = (t: FuncType): number => {
    const key = JSON.stringify(t);
    if (!types.includes(key)) types.push(key);
    return types.indexOf(key);
  };
  const importEntries = imports.map((
    i,
  ) => [...name(i.module), ...name(i.name), 0x00, ...uleb(typeIndex(i.type))]);
  const funcTypes = spec.funcs.map((f) => uleb(typeIndex(f.type)));
  const typeEntries = types.map((key) => {
    const t = JSON.parse(key) as FuncType;
    return [0x60, ...uleb(t.params.length), ...t.params, ...uleb(t.results.length), ...t.results];
  });
  const exports: number[][] = [[...name("memory"), 0x02, 0x00]];
  spec.funcs.forEach((f, i) => {
    if (f.export) exports.push([...name(f.export), 0x00, ...uleb(imports.length + i)]);
  });
  const bodies = spec.funcs.map((f) => {
    const locals = f.locals ? [...uleb(1), ...uleb(f.locals), I32] : [0x00];
    const code = [...locals, ...f.body, 0x0b];
    return [...uleb(code.length), ...code];
  });
  const data = (spec.data ?? []).map((d) => [
    0x00,
    ...op.i32Const(d.offset),
    0x0b,
    ...uleb(d.bytes.length),
    ...d.bytes,
  ]);
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(typeEntries)),
    ...section(2, vec(importEntries)),
    ...section(3, vec(funcTypes)),
    ...section(5, vec([[0x00, ...uleb(spec.memoryPages ?? 1)]])),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
    ...(data.length ? section(11, vec(data)) : []),
  ]);
}

/** The grid host imports, in the order `buildWasm` numbers them (call=0, reply=1, write=2, args=3). */
export const GRID_IMPORTS: WasmImport[] = [
  { module: "grid", name: "call", type: { params: [I32, I32], results: [I32] } },
  { module: "grid", name: "reply", type: { params: [I32], results: [I32] } },
  { module: "grid", name: "write", type: { params: [I32, I32], results: [] } },
  { module: "grid", name: "args", type: { params: [I32], results: [I32] } },
];

/** Index of each grid import, for `op.call`. */
export const HOST = { call: 0, reply: 1, write: 2, args: 3 } as const;

/** Options for {@link callerModule}. */
export interface CallerModuleOptions {
  /** Text written first. */
  greeting?: string;
  /** CBOR grid messages sent in order; each raw reply is written out. */
  messages?: Uint8Array[];
  /** Write the CBOR arguments last. */
  echoArgs?: boolean;
  /** What `run` returns. */
  exitCode?: number;
  /** Spin forever after the rest (to test time limits). */
  /**
   * Count down from this many iterations after the rest, before returning
   * (to test time limits; about a second per 10^9 on this machine).
   */
  spin?: number;
}

const REPLY_AT = 65536;
const ARGS_AT = 196608;

/**
 * A grid WebAssembly module that writes a greeting, sends each message to
 * the kernel and writes each raw reply, optionally writes its arguments,
 * and returns an exit code. Replies and arguments must fit in 64 KiB.
 */
export function callerModule(options: CallerModuleOptions = {}): Uint8Array {
  const greeting = new TextEncoder().encode(options.greeting ?? "");
  const data: { offset: number; bytes: Uint8Array }[] = [{ offset: 0, bytes: greeting }];
  const body: number[] = [];
  if (greeting.length) {
    body.push(...op.i32Const(0), ...op.i32Const(greeting.length), ...op.call(HOST.write));
  }
  let at = 1024;
  for (const message of options.messages ?? []) {
    data.push({ offset: at, bytes: message });
    body.push(
      ...op.i32Const(at),
      ...op.i32Const(message.length),
      ...op.call(HOST.call),
      ...op.localSet(0),
      ...op.i32Const(REPLY_AT),
      ...op.call(HOST.reply),
      ...op.drop(),
      ...op.i32Const(REPLY_AT),
      ...op.localGet(0),
      ...op.call(HOST.write),
    );
    at += message.length;
  }
  if (options.echoArgs) {
    body.push(
      ...op.i32Const(-1),
      ...op.call(HOST.args),
      ...op.localSet(0),
      ...op.i32Const(ARGS_AT),
      ...op.call(HOST.args),
      ...op.drop(),
      ...op.i32Const(ARGS_AT),
      ...op.localGet(0),
      ...op.call(HOST.write),
    );
  }
  if (options.spin) {
    body.push(
      ...op.i32Const(options.spin),
      ...op.localSet(0),
      ...op.loop(),
      ...op.localGet(0),
      ...op.i32Const(1),
      ...op.i32Sub(),
      ...op.localTee(0),
      ...op.brIf(0),
      ...op.end(),
    );
  }
  body.push(...op.i32Const(options.exitCode ?? 0));
  return buildWasm({
    imports: GRID_IMPORTS,
    funcs: [{ type: { params: [], results: [I32] }, locals: 1, body, export: "run" }],
    memoryPages: 4,
    data,
  });
}
