/** @module The Worker entry: the app with R2 and D1 storage. */

import { createApp } from "./app.js";

export default createApp();
