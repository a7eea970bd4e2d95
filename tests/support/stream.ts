// A streamed HTTP answer as a test reads it: chunk by chunk, with the time each arrived.
import { get, type IncomingMessage } from "node:http";

export interface Streamed {
  status: number;
  contentType: string | undefined;
  chunks: { at: number; text: string }[];
  /** The whole body, once the server ends the stream. */
  done: Promise<string>;
}

export async function stream(url: string): Promise<Streamed> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    get(url, resolve).once("error", reject);
  });
  const chunks: { at: number; text: string }[] = [];
  res.setEncoding("utf8");
  res.on("data", (text: string) => chunks.push({ at: Date.now(), text }));
  const done = new Promise<string>((resolve, reject) => {
    res.once("end", () => resolve(chunks.map((c) => c.text).join("")));
    res.once("error", reject);
  });
  return { status: res.statusCode ?? 0, contentType: res.headers["content-type"], chunks, done };
}
