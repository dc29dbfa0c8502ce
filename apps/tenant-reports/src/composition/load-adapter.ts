/** The configuration names an adapter whose package is not installed. Its message is one line. */
export class MissingAdapterError extends Error {
  constructor(
    readonly packageName: string,
    chosenBy: string,
  ) {
    super(
      `${chosenBy} needs ${packageName}, which is not installed: pnpm add ${packageName} (or npm install ${packageName})`,
    );
    this.name = "MissingAdapterError";
  }
}

/**
 * Loads an adapter package only when the configuration names it, like Go CDK's URL openers: a
 * service deployed for one composition installs only that composition's drivers. A package that
 * is not installed fails the start with one line naming what to install.
 */
export async function loadAdapter<Module>(
  packageName: string,
  chosenBy: string,
  importer: () => Promise<Module>,
): Promise<Module> {
  try {
    return await importer();
  } catch (error) {
    if (isMissing(error, packageName)) throw new MissingAdapterError(packageName, chosenBy);
    throw error;
  }
}

function isMissing(error: unknown, packageName: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : "";
  return (
    (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && message.includes(`'${packageName}'`)
  );
}
