-- wrk script: every request creates a new SCIM user (a durable write).
--   wrk ... -s bench/scim_post.lua URL -- TOKEN [NAME_PREFIX]
-- NAME_PREFIX (default "t") starts every userName, so that several runs
-- against one server create distinct users instead of 409s. At the end it
-- prints "created N failed M": the 201 answers and every other answer.
local threads = {}
local next_thread = 0
function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  token = args[1]
  prefix = args[2] or "t"
  counter = 0
  created = 0
  failed = 0
end

function request()
  counter = counter + 1
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. prefix .. tid .. '-' ..
               counter .. '@bench.example","active":true}'
  return wrk.format("POST", "/scim/v2/corp/Users",
                    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/scim+json"}, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
  local c, f = 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("created")
    f = f + thread:get("failed")
  end
  io.write(string.format("created %d failed %d\n", c, f))
end
