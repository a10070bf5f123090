/**
 * Parses one YAML file with js-yaml (CORE_SCHEMA: plain data only, no JS types, no
 * merge keys, no aliases) and remembers where every value and key sits, so that a
 * validation problem found later on the plain value can name its line.
 *
 * js-yaml 5 exposes its parser's event stream with source offsets; the value is built
 * from the same events, so positions and value can never disagree.
 */
import { CORE_SCHEMA, EVENT_ID, YAMLException, constructFromEvents, getScalarValue, parseEvents, type Event } from "js-yaml";

export type YamlPath = ReadonlyArray<string | number>;

export interface YamlSource {
  value: unknown;
  /** 1-based line of the value at `path`, or of its nearest known ancestor. */
  lineOf(path: YamlPath): number;
  /** 1-based line of the mapping key `key` inside the mapping at `path`. */
  lineOfKey(path: YamlPath, key: string): number;
}

export class YamlSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
    this.name = "YamlSyntaxError";
  }
}

const KEY_MARK = "\u0000key:";
const pathKey = (path: YamlPath) => path.map(String).join("\u0001");

/** Parses a single-document YAML file; throws YamlSyntaxError with a 1-based line. */
export function parseYamlSource(text: string, filename: string): YamlSource {
  let events: Event[];
  let documents: unknown[];
  try {
    events = parseEvents(text, { filename, maxDepth: 50 });
    documents = constructFromEvents(events, { source: text, filename, schema: CORE_SCHEMA, maxAliases: 0 });
  } catch (error) {
    if (error instanceof YAMLException) throw new YamlSyntaxError((error.mark?.line ?? 0) + 1, error.reason);
    throw error;
  }
  if (documents.length !== 1) throw new YamlSyntaxError(1, `expected exactly one YAML document, found ${documents.length}`);

  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const lineAt = (offset: number): number => {
    let low = 0;
    let high = lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (lineStarts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return low + 1;
  };
  const offsets = collectOffsets(events, text);

  const lineOf = (path: YamlPath): number => {
    // The key's line reads best for a mapping value (a block scalar starts a line later).
    for (let length = path.length; length >= 0; length--) {
      const prefix = path.slice(0, length);
      const last = prefix.at(-1);
      const keyOffset = typeof last === "string" ? offsets.get(pathKey([...prefix.slice(0, -1), KEY_MARK + last])) : undefined;
      const offset = keyOffset ?? offsets.get(pathKey(prefix));
      if (offset !== undefined && offset >= 0) return lineAt(offset);
    }
    return 1;
  };
  return {
    value: documents[0],
    lineOf,
    lineOfKey: (path, key) => {
      const offset = offsets.get(pathKey([...path, KEY_MARK + key]));
      return offset === undefined ? lineOf(path) : lineAt(offset);
    },
  };
}

interface Frame {
  kind: "mapping" | "sequence";
  path: Array<string | number>;
  /** Sequence: next index. Mapping: the pending key, or undefined when a key comes next. */
  index: number;
  pendingKey?: string;
}

/** Walks the event stream and records the start offset of every node (and mapping key) by path. */
function collectOffsets(events: Event[], text: string): Map<string, number> {
  const offsets = new Map<string, number>();
  const stack: Frame[] = [];

  // Returns the path of the node that starts now, or undefined when the event is a mapping key.
  const place = (offset: number, keyText?: string): Array<string | number> | undefined => {
    const top = stack.at(-1);
    if (!top) return [];
    if (top.kind === "sequence") return [...top.path, top.index++];
    if (top.pendingKey === undefined) {
      // A key. Complex (non-scalar) keys are not used by descriptors; they get a placeholder.
      top.pendingKey = keyText ?? "\u0000complex";
      offsets.set(pathKey([...top.path, KEY_MARK + top.pendingKey]), offset);
      return undefined;
    }
    const path = [...top.path, top.pendingKey];
    top.pendingKey = undefined;
    return path;
  };

  for (const event of events) {
    switch (event.type) {
      case EVENT_ID.MAPPING:
      case EVENT_ID.SEQUENCE: {
        const path = place(event.start) ?? ["\u0000complex"];
        offsets.set(pathKey(path), event.start);
        stack.push({ kind: event.type === EVENT_ID.MAPPING ? "mapping" : "sequence", path, index: 0 });
        break;
      }
      case EVENT_ID.SCALAR: {
        const top = stack.at(-1);
        const isKey = top?.kind === "mapping" && top.pendingKey === undefined;
        const path = place(event.valueStart, isKey ? getScalarValue(text, event) : undefined);
        if (path) offsets.set(pathKey(path), event.valueStart);
        break;
      }
      case EVENT_ID.ALIAS:
        place(event.anchorStart);
        break;
      case EVENT_ID.POP: {
        // A POP closes a collection or the document; only collections are on the stack.
        const top = stack.at(-1);
        if (top) stack.pop();
        break;
      }
      default:
        break;
    }
  }
  return offsets;
}
