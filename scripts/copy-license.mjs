// prepack hook of every published package: the tarball carries the repository's LICENSE, kept in
// one place (the root) and copied into the package folder only while packing (git ignores the copy).
import { copyFileSync } from "node:fs";

copyFileSync(new URL("../LICENSE", import.meta.url), "LICENSE");
