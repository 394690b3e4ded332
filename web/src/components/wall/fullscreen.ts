/**
 * True full screen (the Fullscreen API) for the whole wall or one tile: the browser's own chrome and the
 * task bar go away, unlike "maximise", which only fills the grid. Esc leaves full screen (the browser's own
 * rule); asking again for the element that is already full screen leaves it too.
 */
export function fullscreenElement(): Element | null {
  return document.fullscreenElement;
}

export async function toggleFullscreen(element: HTMLElement): Promise<void> {
  try {
    if (document.fullscreenElement === element) await document.exitFullscreen();
    else await element.requestFullscreen({ navigationUI: 'hide' });
  } catch {
    // Refused (no user gesture, or a browser policy): the wall stays as it is; nothing to clean up.
  }
}
