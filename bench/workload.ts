/** The email both sides send: a small transactional message, about 1.1 KB once composed. */
export const BENCH_TEMPLATE = {
  id: "bench_welcome",
  name: "Benchmark welcome",
  subject: "Welcome to the service, {{user_name}}",
  html_template: [
    "<html><body>",
    "<h1>Hello {{user_name}}</h1>",
    "<p>Thanks for joining. Your booking <b>{{booking_id}}</b> is confirmed for {{date}}.</p>",
    '<p>Manage it at <a href="{{url}}">{{url}}</a>.</p>',
    "<ul>{{#each items}}<li>{{this}}</li>{{/each}}</ul>",
    "<p>See you soon,<br>The team</p>",
    "</body></html>",
  ].join("\n"),
  text_template:
    "Hello {{user_name}}\n\nYour booking {{booking_id}} is confirmed for {{date}}.\nManage it at {{url}}\n\nThe team\n",
  variables: ["user_name"],
};

export function templateData(n: number): Record<string, unknown> {
  return {
    user_name: `User ${n}`,
    booking_id: `BK-${100000 + n}`,
    date: "2026-12-24",
    url: `https://example.com/bookings/${100000 + n}`,
    items: ["Room", "Breakfast", "Late checkout"],
  };
}
