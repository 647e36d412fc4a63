// Runs in a worker thread: validates one routines file and posts the result back.
import { parentPort, workerData } from "node:worker_threads";
import { yieldToEventLoop } from "./off-thread.js";
import { validateRoutines, type ValidateOptions } from "./validate.js";

yieldToEventLoop();
const { source, options } = workerData as { source: string; options: ValidateOptions };
parentPort!.postMessage(validateRoutines(source, options));
