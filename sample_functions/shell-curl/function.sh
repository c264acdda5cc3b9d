# The handler: takes the event (JSON text) as $1, prints the response.
function handler () {
  EVENT_DATA=$1
  echo "got event: $EVENT_DATA" 1>&2
  echo "{\"statusCode\": 200, \"body\": \"Hello from a shell runtime!\", \"event\": $EVENT_DATA}"
}
