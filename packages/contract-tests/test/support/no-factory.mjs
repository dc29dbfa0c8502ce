// A childModule that forgot its createJobQueue export: the SIGKILL check must say so.
export const somethingElse = 1;
