/** A minimal push-to-pull bridge: a producer pushes items, one consumer iterates them. */
export class PushQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #done = false;
  #wake: (() => void) | undefined;

  push(item: T): void {
    this.#items.push(item);
    this.#wake?.();
  }

  end(): void {
    this.#done = true;
    this.#wake?.();
  }

  /** A stream over this queue that ends once `result` settles: what the pool's streams return. */
  until<R>(result: Promise<R>): AsyncIterable<T> & { readonly result: Promise<R> } {
    void result.finally(() => this.end());
    return { result, [Symbol.asyncIterator]: () => this[Symbol.asyncIterator]() };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.#items.length > 0) {
        yield this.#items.shift()!;
        continue;
      }
      if (this.#done) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}
