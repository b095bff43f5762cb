/**
 * The last `limit` bytes of a stream, kept as references to the pieces they
 * came from: the deflate dictionary of the next piece (deflate looks back at
 * most 32 KiB).
 */
export class RecentBytes {
  readonly #limit: number;
  readonly #pieces: Buffer[] = [];
  #length = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  append(piece: Buffer): void {
    if (piece.length === 0) return;
    this.#pieces.push(piece);
    this.#length += piece.length;
    // Drop pieces that lie wholly before the window.
    while (this.#pieces.length > 1 && this.#length - this.#pieces[0]!.length >= this.#limit) {
      this.#length -= this.#pieces.shift()!.length;
    }
  }

  /**
   * The last `limit` bytes (fewer at the start of the stream), undefined when
   * nothing came yet. A view when they lie in one piece; a copy of at most
   * `limit` bytes otherwise.
   */
  tail(): Buffer | undefined {
    const last = this.#pieces.at(-1);
    if (last === undefined) return undefined;
    if (last.length >= this.#limit) return last.subarray(last.length - this.#limit);
    const size = Math.min(this.#length, this.#limit);
    const window = Buffer.allocUnsafe(size);
    let end = size;
    for (let i = this.#pieces.length - 1; i >= 0 && end > 0; i--) {
      const piece = this.#pieces[i]!;
      const take = Math.min(piece.length, end);
      piece.copy(window, end - take, piece.length - take);
      end -= take;
    }
    return window;
  }
}
