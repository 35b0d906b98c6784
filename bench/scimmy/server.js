// An in-memory SCIM 2.0 server built the way scimmy's and scimmy-routers'
// READMEs show (handlers declared on SCIMMY.Resources.User/Group, routers
// mounted on express), so that bench/scim_intake_compare.py can run the same
// wrk script against it and against keywarden. Nothing is written to disk:
// this is the cheapest a Node SCIM server gets, not a durable one.
//
//   node server.js --token-file FILE [--listen 127.0.0.1:0] [--port-file FILE]
//
// It serves /scim/v2/corp/Users and /Groups, the same paths as a keywarden
// SCIM source named "corp", and accepts only "Authorization: Bearer <token>"
// with the token in FILE, as keywarden does. userName is unique, compared
// case-insensitively after trimming (a second POST is 409 uniqueness), as
// keywarden compares it.

import crypto from "node:crypto";
import fs from "node:fs";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

function option(name, fallback) {
    const at = process.argv.indexOf(name);
    return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const tokenFile = option("--token-file");
if (!tokenFile) {
    console.error("usage: node server.js --token-file FILE [--listen HOST:PORT] [--port-file FILE]");
    process.exit(2);
}
const token = Buffer.from(fs.readFileSync(tokenFile, "utf8").trim());
const [host, port] = option("--listen", "127.0.0.1:0").split(":");
const portFile = option("--port-file");

// One store per resource type: id -> resource, and a unique key -> id.
class MemoryTable {
    constructor(uniqueAttribute) {
        this.byId = new Map();
        this.idByKey = new Map();
        this.uniqueAttribute = uniqueAttribute;
    }

    keyOf(resource) {
        return String(resource[this.uniqueAttribute] ?? "").trim().toLowerCase();
    }

    // egress: one resource by id, or every resource the filter matches.
    read(resource) {
        if (resource.id) {
            const found = this.byId.get(resource.id);
            if (!found) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            return found;
        }
        const all = [...this.byId.values()];
        return resource.filter ? resource.filter.match(all) : all;
    }

    // ingress: create (no id) or replace (id) after the uniqueness check.
    write(resource, instance) {
        const now = new Date();
        const old = resource.id ? this.byId.get(resource.id) : undefined;
        if (resource.id && !old) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        const key = this.keyOf(instance);
        const holder = this.idByKey.get(key);
        if (holder !== undefined && holder !== resource.id) {
            throw new SCIMMY.Types.Error(409, "uniqueness",
                `${this.uniqueAttribute} "${instance[this.uniqueAttribute]}" is already taken`);
        }
        const id = resource.id ?? crypto.randomUUID();
        const stored = {
            ...instance, id,
            meta: {created: old?.meta.created ?? now, lastModified: now},
        };
        if (old) this.idByKey.delete(this.keyOf(old));
        this.idByKey.set(key, id);
        this.byId.set(id, stored);
        return stored;
    }

    // degress: delete by id.
    remove(resource) {
        const old = this.byId.get(resource.id);
        if (!old) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        this.idByKey.delete(this.keyOf(old));
        this.byId.delete(resource.id);
    }
}

const users = new MemoryTable("userName");
const groups = new MemoryTable("displayName");

SCIMMY.Resources.declare(SCIMMY.Resources.User)
    .ingress((resource, instance) => users.write(resource, instance))
    .egress((resource) => users.read(resource))
    .degress((resource) => users.remove(resource));
SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .ingress((resource, instance) => groups.write(resource, instance))
    .egress((resource) => groups.read(resource))
    .degress((resource) => groups.remove(resource));

function authenticate(request) {
    const header = request.header("Authorization") ?? "";
    const presented = Buffer.from(header.startsWith("Bearer ") ? header.slice(7) : "");
    if (presented.length !== token.length || !crypto.timingSafeEqual(presented, token)) {
        throw new Error("Bearer token missing or wrong");
    }
    return "bench-client";
}

const app = express();
app.disable("x-powered-by");
app.use("/scim/v2/corp", new SCIMMYRouters({type: "bearer", handler: authenticate}));

const server = app.listen(Number(port), host, () => {
    const bound = server.address().port;
    if (portFile) fs.writeFileSync(portFile, `${bound}\n`);
    console.log(`scimmy server on http://${host}:${bound}/scim/v2/corp`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
