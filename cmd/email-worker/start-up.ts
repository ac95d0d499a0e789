/**
 * Puts a part's close on start-up's undo stack, which closes what opened (newest first) when a later
 * step fails. A close that fails is ignored: the failed step's own error is what the operator needs,
 * and a close throwing during the unwind would wrap it in a SuppressedError.
 */
export function undoWith(undo: AsyncDisposableStack, close: () => Promise<unknown>): void {
  undo.defer(() => close().then(ignore, ignore));
}

function ignore(): void {}
