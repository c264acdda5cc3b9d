// Runs once per execution environment (the INIT phase): a cold start logs this line.
let invocations = 0;
console.log("node-hello loaded");

export const handler = async (event, context) => {
  invocations += 1;
  const name = event?.name ?? "world";
  console.log(`Saying hello to ${name}`);
  console.info("event:", event);
  if (invocations === 1) {
    console.warn("first invocation in this environment (a cold start)");
  }
  return {
    message: `Hello, ${name}!`,
    invocation: invocations,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memoryLimitInMB: context.memoryLimitInMB,
    awsRequestId: context.awsRequestId,
    remainingTimeInMillis: context.getRemainingTimeInMillis(),
  };
};
