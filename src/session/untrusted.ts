// Outside text (pull request descriptions, comments, connector results) goes to the model inside
// an <untrusted> frame, which the system prompt tells it to treat as data. The text itself must
// not be able to close that frame, open another one, or pose as one of the prompt's own sections;
// so the tags the prompt uses lose their opening bracket inside it.

/** The tags of the prompt's own structure. */
const FRAME_TAG = /<(\s*\/?\s*)(untrusted|routine|context|repository_instructions)\b/gi;

/** The text with every tag of the prompt's structure defused (`<` becomes `&lt;`). */
export const defuseFrames = (text: string) => text.replace(FRAME_TAG, "&lt;$1$2");

/** Outside text in its frame. `source` is the app's own wording, never outside text. */
export const untrustedFrame = (source: string, text: string) => `<untrusted source="${source}">\n${defuseFrames(text)}\n</untrusted>`;
