// Runs in a worker thread: validates one routines file and describes it as the config check does.
import { parentPort, workerData } from "node:worker_threads";
import { yieldToEventLoop } from "../config/off-thread.js";
import { inspectInThread, type InspectOptions } from "./config-check.js";

yieldToEventLoop();
const { source, options } = workerData as { source: string; options: InspectOptions };
parentPort!.postMessage(await inspectInThread(source, options));
