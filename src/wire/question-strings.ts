/**
 * The strings of recently asked questions, found again by their bytes: a busy client repeats a
 * few names, and building the query name (and its cache key) as a new string for every datagram
 * was most of what the cached and managed answers left for the garbage collector.
 *
 * A set-associative table (SETS × WAYS) keyed by the lower-cased presentation bytes of the name,
 * its type, class and the DO/CD bits. A question is only given strings here the second time it
 * is seen while its bytes are still held: a flood of names asked once (cache misses) leaves no
 * strings behind to be promoted to the old generation. Names longer than TEXT_BYTES are not held.
 */
const SETS = 512;
const WAYS = 4;
const SLOTS = SETS * WAYS;
/** Longest name text held (the usual service names are 30–70 bytes). */
export const QUESTION_TEXT_BYTES = 96;

const EMPTY = 0;
/** Bytes recorded, strings not made yet. */
const SEEN = 1;
const HELD = 2;

/** The cache key of a question: the name, then one code unit each for type, class and the DO/CD bits. */
export function questionKey(qname: string, qtype: number, qclass: number, doBit: boolean, cdBit: boolean): string {
  return qname + String.fromCharCode(qtype, qclass, (doBit ? 2 : 0) | (cdBit ? 1 : 0));
}

export class QuestionStrings {
  private readonly text = new Uint8Array(SLOTS * QUESTION_TEXT_BYTES);
  private readonly lengths = new Int32Array(SLOTS);
  /** qtype | class << 16 (both 16 bits): a uint32 as int32. */
  private readonly typeClass = new Int32Array(SLOTS);
  private readonly bits = new Uint8Array(SLOTS);
  private readonly state = new Uint8Array(SLOTS);
  /** Round-robin victim per set. */
  private readonly next = new Uint8Array(SETS);
  private readonly names: string[] = new Array<string>(SLOTS).fill('');
  private readonly keys: string[] = new Array<string>(SLOTS).fill('');
  /** Set by find(): the strings of the question, or '' when they are not held (the caller builds its own). */
  name = '';
  key = '';

  /**
   * Looks up the question whose name text is `text[0, length)` (hash: `nameHash`, any 32-bit
   * mix of those bytes). Afterwards `name` and `key` hold its strings, or '' when this is the
   * first time (or the name is too long) and the caller must build them.
   */
  find(text: Uint8Array, length: number, nameHash: number, qtype: number, qclass: number, doBit: boolean, cdBit: boolean): void {
    this.name = '';
    this.key = '';
    if (length > QUESTION_TEXT_BYTES) return;
    const tc = (qtype | (qclass << 16)) | 0;
    const flag = (doBit ? 2 : 0) | (cdBit ? 1 : 0);
    let h = Math.imul(nameHash ^ tc, 0x01000193);
    h = Math.imul(h ^ flag, 0x01000193);
    const set = (h ^ (h >>> 15)) & (SETS - 1);
    const first = set * WAYS;
    for (let slot = first; slot < first + WAYS; slot++) {
      if (this.state[slot] === EMPTY || this.lengths[slot] !== length || this.typeClass[slot] !== tc || this.bits[slot] !== flag) continue;
      if (!this.sameText(slot, text, length)) continue;
      if (this.state[slot] === SEEN) {
        // The second time: the strings are worth keeping now.
        const name = latin1(text, length);
        this.names[slot] = name;
        this.keys[slot] = questionKey(name, qtype, qclass, doBit, cdBit);
        this.state[slot] = HELD;
      }
      this.name = this.names[slot];
      this.key = this.keys[slot];
      return;
    }
    // Not held: record the bytes over a free way, else the set's next victim.
    let victim = -1;
    for (let slot = first; slot < first + WAYS; slot++) {
      if (this.state[slot] === EMPTY) {
        victim = slot;
        break;
      }
    }
    if (victim < 0) {
      victim = first + this.next[set];
      this.next[set] = (this.next[set] + 1) % WAYS;
    }
    const base = victim * QUESTION_TEXT_BYTES;
    for (let i = 0; i < length; i++) this.text[base + i] = text[i];
    this.lengths[victim] = length;
    this.typeClass[victim] = tc;
    this.bits[victim] = flag;
    this.state[victim] = SEEN;
    this.names[victim] = '';
    this.keys[victim] = '';
  }

  private sameText(slot: number, text: Uint8Array, length: number): boolean {
    const stored = this.text;
    const base = slot * QUESTION_TEXT_BYTES;
    for (let i = 0; i < length; i++) if (stored[base + i] !== text[i]) return false;
    return true;
  }
}

function latin1(text: Uint8Array, length: number): string {
  return Buffer.from(text.buffer, text.byteOffset, length).toString('latin1');
}
