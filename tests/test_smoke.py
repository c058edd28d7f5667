def test_healthz(slack):
    assert slack.get("/healthz").status == 200


def test_one_line(running, slack):
    reply = slack.command("/leadfeedback", 'ACME-4411 2 no-budget wrong-contact "only wanted pricing"')
    print(reply.status, reply.body)
    assert reply.status == 200
